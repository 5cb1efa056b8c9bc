// client: calls the example server's Download on a new connection, once per traceparent of
// -traceparent (comma-separated, "-" for an RPC without; one after the other on the same
// connection), and prints "LOCAL_PORT BYTES" per RPC (LOCAL_PORT: the connection's port on
// this side); or, with -stats, prints the server's counters (JSON).
//
//	grpcclient -addr 127.0.0.1:50051 -size 30000000 -traceparent 00-...-01,-
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"traceiface.local/spanctx/grpcserver/example/blob"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "server address")
	size := flag.Int("size", 30000000, "bytes to download")
	tps := flag.String("traceparent", "-", `W3C traceparents, one RPC each ("-": none)`)
	showStats := flag.Bool("stats", false, "print the server's counters instead")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var local net.Addr
	conn, err := grpc.DialContext(ctx, *addr, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
			if err == nil {
				local = c.LocalAddr()
			}
			return c, err
		}))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	call := grpc.CallContentSubtype(blob.Codec)

	if *showStats {
		var out []byte
		if err := conn.Invoke(ctx, blob.Stats, []byte{}, &out, call); err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(out))
		return
	}
	for _, tp := range strings.Split(*tps, ",") {
		n, err := download(ctx, conn, *size, tp, call)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(local.(*net.TCPAddr).Port, n)
	}
}

// download calls Download for size bytes with traceparent tp ("-": none), returns the bytes
// received.
func download(ctx context.Context, conn *grpc.ClientConn, size int, tp string,
	call grpc.CallOption) (int, error) {
	if tp != "-" {
		ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", tp)
	}
	desc := &grpc.StreamDesc{StreamName: "Download", ServerStreams: true}
	stream, err := conn.NewStream(ctx, desc, blob.Download, call)
	if err != nil {
		return 0, err
	}
	if err := stream.SendMsg([]byte(fmt.Sprint(size))); err != nil {
		return 0, err
	}
	if err := stream.CloseSend(); err != nil {
		return 0, err
	}
	n := 0
	for {
		var msg []byte
		err := stream.RecvMsg(&msg)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n += len(msg)
	}
}

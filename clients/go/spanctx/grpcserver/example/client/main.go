// client: calls the example server's Download on a new connection, with the traceparent
// given in its metadata, and prints "LOCAL_PORT BYTES" (LOCAL_PORT: the connection's port on
// this side); or, with -stats, prints the server's counters (JSON).
//
//	go run ./example/client -addr 127.0.0.1:50051 -size 30000000 -traceparent 00-...-01
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"traceiface.local/spanctx/grpcserver/example/blob"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "server address")
	size := flag.Int("size", 30000000, "bytes to download")
	tp := flag.String("traceparent", "", "W3C traceparent to send (none when empty)")
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
	if *tp != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", *tp)
	}
	desc := &grpc.StreamDesc{StreamName: "Download", ServerStreams: true}
	stream, err := conn.NewStream(ctx, desc, blob.Download, call)
	if err != nil {
		log.Fatal(err)
	}
	if err := stream.SendMsg([]byte(fmt.Sprint(*size))); err != nil {
		log.Fatal(err)
	}
	if err := stream.CloseSend(); err != nil {
		log.Fatal(err)
	}
	n := 0
	for {
		var msg []byte
		err := stream.RecvMsg(&msg)
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		n += len(msg)
	}
	fmt.Println(local.(*net.TCPAddr).Port, n)
}

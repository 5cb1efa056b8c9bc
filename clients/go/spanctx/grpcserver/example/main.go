// example: a gRPC server whose connections are bound to the trace of the RPC being served
// (the traceparent of its metadata), so traceiface's retransmit lines and exemplars for them
// carry its trace id. Its service (package blob) streams N bytes per Download call.
//
// Built against Debian's grpc-go in GOPATH mode (tests/go/gopath.sh; module mode would
// need `go mod tidy` to fetch grpc first):
//
//	. tests/go/gopath.sh && tif_gopath_env /tmp/gp
//	go build -o /tmp/grpcserver traceiface.local/spanctx/grpcserver/example
//	go build -o /tmp/grpcclient traceiface.local/spanctx/grpcserver/example/client
//	/tmp/grpcserver -listen 127.0.0.1:50051 &
//	/tmp/grpcclient -addr 127.0.0.1:50051 -size 30000000 \
//	    -traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//	/tmp/grpcclient -addr 127.0.0.1:50051 -stats
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net"

	"google.golang.org/grpc"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/grpcserver"
	"traceiface.local/spanctx/grpcserver/example/blob"
)

type stats struct{ m *grpcserver.Middleware }

func (s stats) Stats(context.Context) ([]byte, error) { return json.Marshal(s.m.Stats()) }

func main() {
	listen := flag.String("listen", "127.0.0.1:50051", "address to serve on")
	socket := flag.String("socket", spanctx.DefaultSocket, "traceiface span socket")
	flag.Parse()

	m := grpcserver.NewSocket(*socket) // redials while traceiface is away
	defer m.Close()
	srv := grpc.NewServer(grpc.StatsHandler(m))
	blob.Register(srv, stats{m})

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	log.Fatal(srv.Serve(m.Listener(l)))
}

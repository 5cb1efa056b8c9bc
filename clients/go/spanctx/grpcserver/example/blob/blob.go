// Package blob is the example's gRPC service, written by hand (no protoc-generated code):
// messages are raw bytes (a codec registered as content-subtype "tif-raw"), the method
// Download streams the number of zero bytes its request asks for (decimal), Stats returns
// the server's counters as JSON.
package blob

import (
	"context"
	"fmt"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
)

// Codec is the content-subtype of the service's messages: clients call with
// grpc.CallContentSubtype(Codec).
const Codec = "tif-raw"

// Method names, as gRPC sees them.
const (
	Service  = "tif.Blob" // short: "gRPC /tif.Blob/Download" fits a span name (32 bytes)
	Download = "/" + Service + "/Download"
	Stats    = "/" + Service + "/Stats"
)

// ChunkSize is the size of Download's messages.
const ChunkSize = 64 << 10

func init() { encoding.RegisterCodec(rawCodec{}) }

// rawCodec passes []byte messages through (*[]byte to receive).
type rawCodec struct{}

func (rawCodec) Name() string { return Codec }

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *[]byte:
		return *b, nil
	}
	return nil, fmt.Errorf("blob: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	b, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("blob: cannot unmarshal into %T", v)
	}
	*b = append((*b)[:0], data...)
	return nil
}

// Server implements the service.
type Server interface {
	// Stats: the server's counters (JSON).
	Stats(ctx context.Context) ([]byte, error)
}

// Register registers the service on s: Download is served here, Stats by srv.
func Register(s *grpc.Server, srv Server) {
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: Service,
		HandlerType: (*Server)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Stats",
			Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error,
				_ grpc.UnaryServerInterceptor) (interface{}, error) {
				var req []byte
				if err := dec(&req); err != nil {
					return nil, err
				}
				return srv.(Server).Stats(ctx)
			},
		}},
		Streams: []grpc.StreamDesc{{
			StreamName:    "Download",
			ServerStreams: true,
			Handler:       download,
		}},
	}, srv)
}

func download(_ interface{}, stream grpc.ServerStream) error {
	var req []byte
	if err := stream.RecvMsg(&req); err != nil {
		return err
	}
	size, err := strconv.Atoi(string(req))
	if err != nil || size < 0 {
		return fmt.Errorf("blob: bad size %q", req)
	}
	chunk := make([]byte, ChunkSize)
	for size > 0 {
		n := len(chunk)
		if n > size {
			n = size
		}
		if err := stream.SendMsg(chunk[:n]); err != nil {
			return err
		}
		size -= n
	}
	return nil
}

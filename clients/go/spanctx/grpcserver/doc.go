// Package grpcserver binds the TCP connection a grpc-go server serves an RPC on to that RPC's
// trace, so that traceiface's retransmit lines and exemplars for the connection carry the
// trace id: no code per service or method.
//
//	m := grpcserver.NewSocket(spanctx.DefaultSocket) // or grpcserver.New(client)
//	defer m.Close()
//	srv := grpc.NewServer(grpc.StatsHandler(m)) // m.Next = yours, to keep your stats handler
//	pb.RegisterFooServer(srv, impl)
//	l, err := net.Listen("tcp", ":50051")
//	...
//	log.Fatal(srv.Serve(m.Listener(l))) // the listener wrapper finds each RPC's socket
//
// Two hooks, both needed: m.Listener(l) notes each accepted connection (unchanged: the
// *net.TCPConn goes on to grpc, and through the server's credentials, TLS or your own) under
// its local and remote address; m as the server's stats.Handler finds it again when grpc tags
// the connection (TagConn has the same two addresses: after any TLS handshake, one
// connection's pair is unique) and sees every RPC's start and end on it. The listener is the
// hook because grpc-go hands nothing else the socket: wrapping the credentials would work
// only through the peer's AuthInfo, changing its type for code that inspects it (TLSInfo),
// and an insecure server has no credentials to wrap. RPCs on a connection accepted without
// m.Listener (or served through ServeHTTP) are served as usual and counted in NoConn.
//
// Per RPC, unary and streaming alike, when grpc starts processing it (stats.Begin) the W3C
// traceparent of the incoming metadata binds the connection to its trace id, with span id =
// the traceparent's parent id (the caller's span; the server's own span, a child of it, is
// not known here) and its flags. The span name is "gRPC " + the full method
// ("gRPC /pkg.Service/Method"), cut to spanctx.MaxNameLen bytes, other than printable ASCII
// replaced by '?' (Middleware.Name to change it). An RPC without a (valid) traceparent, or
// with several, binds nothing; when no other RPC runs on its connection, a binding left by
// an earlier RPC is undone at once (its retransmits are not that trace's).
//
// HTTP/2 multiplexes RPCs on one connection, which traceiface binds to one trace at a time:
// each RPC binds the connection as it starts, the last one wins (retransmits may then carry
// the trace of another RPC in flight on it). When the last RPC on the connection has ended
// and grpc has written all of it (after stats.End, grpc's writer may still hold its last
// messages and trailers behind HTTP/2 flow control: the RPC's context is cancelled once they
// were written), the binding is undone once the kernel's send queue of the connection has
// drained (SIOCOUTQ: everything sent was acknowledged, checked from 10 ms on, the interval
// doubling up to 1 s, at most a minute), so retransmits of the response's tail still count
// for its trace while an idle connection belongs to none. When the connection closes the
// kernel deletes its binding.
//
// Frames are sent without ever waiting (spanctx.Client.TryBind): when traceiface is absent,
// restarting or not keeping up, RPCs are served as usual and the miss is counted (Stats).
package grpcserver

package grpcserver

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/connbind"
)

// RedialInterval is how often a Middleware made by NewSocket tries to reach the span socket
// again while it is unavailable.
const RedialInterval = connbind.RedialInterval

// Stats are the middleware's counters since it was made.
type Stats struct {
	RPCs          uint64 // RPCs seen (stats.Begin)
	Bound         uint64 // bind frames sent
	Unbound       uint64 // unbind frames sent
	NoTraceparent uint64 // RPCs without traceparent: nothing bound
	Malformed     uint64 // RPCs whose traceparent is malformed or repeated: nothing bound
	NoConn        uint64 // RPCs whose connection is unknown: not accepted through Listener
	Dropped       uint64 // frames dropped: the span socket's buffer was full
	Errors        uint64 // frames not sent: no span socket (traceiface absent, restarted), ...
}

// Middleware binds RPCs' connections to their traces; a grpc stats.Handler, safe for
// concurrent use, one per span-socket client (several servers and listeners may share one).
type Middleware struct {
	// Name gives an RPC's span name from its full method ("/pkg.Service/Method"), cut to
	// spanctx.MaxNameLen bytes, other bytes than printable ASCII replaced by '?'. nil:
	// "gRPC " + full method. Set it before serving.
	Name func(fullMethod string) string
	// Next is the server's own stats handler, if any (grpc takes one): every call is passed
	// on to it, with the contexts it returns. Set it before serving.
	Next stats.Handler

	sender   *connbind.Sender
	accepted accepted // connections Listener accepted, until TagConn takes them

	rpcs, noTraceparent, malformed, noConn atomic.Uint64
}

// New makes a Middleware sending over c, which the caller owns. c may be nil: nothing is
// bound, every bind counts as an error.
func New(c *spanctx.Client) *Middleware { return &Middleware{sender: connbind.New(c)} }

// NewSocket makes a Middleware with its own connection to the span socket at path
// (spanctx.DefaultSocket when empty), dialed now and, while unavailable (traceiface not yet
// started, restarted), again every RedialInterval in the background. Close ends it.
func NewSocket(path string) *Middleware { return &Middleware{sender: connbind.NewSocket(path)} }

// Close stops redialing and closes the span-socket connection NewSocket made (a client passed
// to New stays open). Bindings stay until their connections close or traceiface's TTL.
func (m *Middleware) Close() error { return m.sender.Close() }

// Stats returns the counters.
func (m *Middleware) Stats() Stats {
	f := m.sender.Stats()
	return Stats{
		RPCs:          m.rpcs.Load(),
		Bound:         f.Bound,
		Unbound:       f.Unbound,
		NoTraceparent: m.noTraceparent.Load(),
		Malformed:     m.malformed.Load(),
		NoConn:        m.noConn.Load(),
		Dropped:       f.Dropped,
		Errors:        f.Errors,
	}
}

type connKey struct{}
type rpcKey struct{}

// rpc is one RPC's state, put into its context by TagRPC.
type rpc struct {
	method string
	conn   *connbind.Conn // set by Begin when it started a unit of work on the connection
}

// TagConn finds the connection Listener accepted with these addresses.
func (m *Middleware) TagConn(ctx context.Context, info *stats.ConnTagInfo) context.Context {
	if info.LocalAddr != nil && info.RemoteAddr != nil {
		if c := m.accepted.take(info.LocalAddr, info.RemoteAddr); c != nil {
			ctx = context.WithValue(ctx, connKey{}, m.sender.Conn(c))
		}
	}
	if m.Next != nil {
		ctx = m.Next.TagConn(ctx, info)
	}
	return ctx
}

// HandleConn notes the connection's end: the kernel deleted its binding with the socket.
func (m *Middleware) HandleConn(ctx context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnEnd); ok {
		if cs, ok := ctx.Value(connKey{}).(*connbind.Conn); ok {
			cs.Closed()
		}
	}
	if m.Next != nil {
		m.Next.HandleConn(ctx, s)
	}
}

// TagRPC gives the RPC its state.
func (m *Middleware) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	ctx = context.WithValue(ctx, rpcKey{}, &rpc{method: info.FullMethodName})
	if m.Next != nil {
		ctx = m.Next.TagRPC(ctx, info)
	}
	return ctx
}

// HandleRPC binds at the RPC's Begin and ends its unit of work after its End: grpc reports
// both for every RPC it processes (an unknown method's is refused before Begin), from one
// goroutine.
func (m *Middleware) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if !s.IsClient() {
		switch s.(type) {
		case *stats.Begin:
			m.begin(ctx)
		case *stats.End:
			if r, ok := ctx.Value(rpcKey{}).(*rpc); ok && r.conn != nil {
				endWhenWritten(ctx, r.conn)
				r.conn = nil
			}
		}
	}
	if m.Next != nil {
		m.Next.HandleRPC(ctx, s)
	}
}

func (m *Middleware) begin(ctx context.Context) {
	r, ok := ctx.Value(rpcKey{}).(*rpc)
	if !ok {
		return
	}
	m.rpcs.Add(1)
	cs, ok := ctx.Value(connKey{}).(*connbind.Conn)
	if !ok {
		m.noConn.Add(1)
		return
	}
	if sp, ok := m.traceOf(ctx); ok {
		cs.Begin(sp, m.name(r.method))
	} else {
		cs.BeginUntraced()
	}
	r.conn = cs
}

func (m *Middleware) traceOf(ctx context.Context) (connbind.Span, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("traceparent")
	if len(vals) == 0 {
		m.noTraceparent.Add(1)
		return connbind.Span{}, false
	}
	if len(vals) > 1 {
		m.malformed.Add(1)
		return connbind.Span{}, false
	}
	t, p, flags, err := spanctx.ParseTraceparent(vals[0])
	if err != nil {
		m.malformed.Add(1)
		return connbind.Span{}, false
	}
	return connbind.Span{Trace: t, Span: p, Flags: flags}, true
}

func (m *Middleware) name(fullMethod string) string {
	if m.Name != nil {
		return m.Name(fullMethod)
	}
	return "gRPC " + fullMethod
}

// endWhenWritten ends the RPC's unit of work on cs once grpc has written all of it to the
// socket. stats.End comes when the status was handed to the transport, whose writer may
// still hold messages and the trailers behind HTTP/2 flow control (the kernel's queue can be
// empty meanwhile); the RPC's context is cancelled when the writer has sent the trailers (the
// stream is deleted then), or when the stream or connection is torn down.
func endWhenWritten(ctx context.Context, cs *connbind.Conn) {
	select {
	case <-ctx.Done():
		cs.End()
	default:
		go func() {
			<-ctx.Done()
			cs.End()
		}()
	}
}

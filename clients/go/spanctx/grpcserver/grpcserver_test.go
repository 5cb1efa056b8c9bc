package grpcserver_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/grpcserver"
	"traceiface.local/spanctx/internal/spantest"
)

func ids(tp string) (spanctx.TraceID, spanctx.SpanID) {
	t, s, _, err := spanctx.ParseTraceparent(tp)
	if err != nil {
		panic(err)
	}
	return t, s
}

func tp(i int) string {
	return fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04x-%016x-01", i, uint64(0xf067aa0ba902b700)+uint64(i))
}

// The test service, written by hand: raw-bytes messages, a unary and a bidi-streaming method
// that both block while a gate named by the request is set.
const (
	codecName = "tif-test-raw"
	unary     = "/test.Svc/Unary"
	streaming = "/test.Svc/Stream"
	bigSize   = 200 << 10 // the streaming response to "big"
)

type rawCodec struct{}

func (rawCodec) Name() string                          { return codecName }
func (rawCodec) Marshal(v interface{}) ([]byte, error) { return v.([]byte), nil }
func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}

func init() { encoding.RegisterCodec(rawCodec{}) }

type svc interface{} // the service's handler type: any

type gates struct {
	m       sync.Map // request → chan struct{}: the handler blocks until it is closed
	entered chan string
}

func (g *gates) set(key string) chan struct{} {
	ch := make(chan struct{})
	g.m.Store(key, ch)
	return ch
}

func (g *gates) pass(ctx context.Context, key []byte) {
	if ch, ok := g.m.Load(string(key)); ok {
		g.entered <- string(key)
		select {
		case <-ch.(chan struct{}):
		case <-ctx.Done():
		}
	}
}

func (g *gates) desc() *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: "test.Svc",
		HandlerType: (*svc)(nil),
		Methods: []grpc.MethodDesc{{MethodName: "Unary", Handler: func(_ interface{},
			ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
			var req []byte
			if err := dec(&req); err != nil {
				return nil, err
			}
			g.pass(ctx, req)
			return []byte("ok"), nil
		}}},
		Streams: []grpc.StreamDesc{{StreamName: "Stream", ServerStreams: true, ClientStreams: true,
			Handler: func(_ interface{}, ss grpc.ServerStream) error {
				var req []byte
				if err := ss.RecvMsg(&req); err != nil {
					return err
				}
				if string(req) == "big" { // a response larger than the client's window
					err := ss.SendMsg(make([]byte, bigSize))
					g.entered <- "big sent"
					return err
				}
				g.pass(ss.Context(), req)
				return ss.SendMsg([]byte("ok"))
			}}},
	}
}

// cookies records each accepted connection's SO_COOKIE by its peer address (a listener under
// the middleware's).
type cookies struct {
	net.Listener
	m sync.Map
}

func (c *cookies) Accept() (net.Conn, error) {
	conn, err := c.Listener.Accept()
	if err == nil {
		c.m.Store(conn.RemoteAddr().String(), spantest.Cookie(conn))
	}
	return conn, err
}

func (c *cookies) of(remote string) uint64 {
	v, _ := c.m.Load(remote)
	u, _ := v.(uint64)
	return u
}

type env struct { // one test's span socket, middleware and server
	t       *testing.T
	sock    string
	span    *spantest.Server
	m       *grpcserver.Middleware
	srv     *grpc.Server
	addr    string
	cookies *cookies
	g       *gates
}

type option func(e *env, opts *[]grpc.ServerOption, l *net.Listener)

// noWrap serves without the middleware's listener.
func noWrap(e *env, _ *[]grpc.ServerOption, l *net.Listener) { *l = e.cookies }

// newEnv: a fake span socket, m (nil: a Middleware over a client of the span socket) and a
// grpc server with it on a loopback port, serving the gated test service.
func newEnv(t *testing.T, m *grpcserver.Middleware, opts ...option) *env {
	e := &env{t: t, sock: filepath.Join(t.TempDir(), "span.sock"), m: m,
		g: &gates{entered: make(chan string, 100)}}
	e.span = spantest.Start(t, e.sock)
	if e.m == nil {
		c, err := spanctx.Dial(e.sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		e.m = grpcserver.New(c)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	e.cookies = &cookies{Listener: l}
	sopts := []grpc.ServerOption{grpc.StatsHandler(e.m)}
	var serveOn net.Listener = e.m.Listener(e.cookies)
	for _, o := range opts {
		o(e, &sopts, &serveOn)
	}
	e.srv = grpc.NewServer(sopts...)
	e.srv.RegisterService(e.g.desc(), nil)
	go e.srv.Serve(serveOn)
	t.Cleanup(e.srv.Stop)
	return e
}

// client is one client connection to the server.
type client struct {
	cc    *grpc.ClientConn
	local string // its address
}

// dial connects with creds (nil: insecure) and opts.
func (e *env) dial(creds credentials.TransportCredentials, opts ...grpc.DialOption) *client {
	e.t.Helper()
	c := &client{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sec := grpc.WithInsecure()
	if creds != nil {
		sec = grpc.WithTransportCredentials(creds)
	}
	opts = append(opts, grpc.WithBlock(), sec,
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", a)
			if err == nil {
				c.local = conn.LocalAddr().String()
			}
			return conn, err
		}))
	cc, err := grpc.DialContext(ctx, e.addr, opts...)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cc.Close() })
	c.cc = cc
	return c
}

// call makes an RPC (unary, or streaming: one message each way) with the traceparents given;
// bounded, so that a hung RPC fails its test.
func (c *client) call(method, req string, traceparents ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, v := range traceparents {
		ctx = metadata.AppendToOutgoingContext(ctx, "traceparent", v)
	}
	sub := grpc.CallContentSubtype(codecName)
	var resp []byte
	if method == unary {
		if err := c.cc.Invoke(ctx, unary, []byte(req), &resp, sub); err != nil {
			return err
		}
	} else {
		s, err := c.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, sub)
		if err != nil {
			return err
		}
		if err := s.SendMsg([]byte(req)); err != nil {
			return err
		}
		s.CloseSend()
		if err := s.RecvMsg(&resp); err != nil {
			return err
		}
	}
	if string(resp) != "ok" {
		return fmt.Errorf("response %q", resp)
	}
	return nil
}

// goCall runs call in the background; its error arrives on the channel.
func (c *client) goCall(method, req string, tps ...string) chan error {
	ch := make(chan error, 1)
	go func() { ch <- c.call(method, req, tps...) }()
	return ch
}

func (e *env) entered(key string) {
	e.t.Helper()
	select {
	case k := <-e.g.entered:
		if k != key {
			e.t.Fatalf("handler %q entered, want %q", k, key)
		}
	case <-time.After(10 * time.Second):
		e.t.Fatalf("handler %q did not run", key)
	}
}

func (e *env) checkBind(fr spantest.Frame, tp, name string, c *client) {
	e.t.Helper()
	t, s := ids(tp)
	if fr.Op != 1 || fr.Trace != t || fr.Span != s || fr.Flags != 1 || fr.Name != name {
		e.t.Fatalf("got %v, want bind of %s named %q", fr, tp, name)
	}
	if fr.Local != e.addr || fr.Remote != c.local {
		e.t.Fatalf("passed socket %s<-%s, want the server's connection %s<-%s", fr.Local,
			fr.Remote, e.addr, c.local)
	}
	if want := e.cookies.of(fr.Remote); fr.Cookie == 0 || fr.Cookie != want {
		e.t.Fatalf("passed socket's cookie %d, the server's connection's %d", fr.Cookie, want)
	}
}

func (e *env) checkUnbind(fr spantest.Frame, cookie uint64) {
	e.t.Helper()
	if fr.Op != 2 || fr.Cookie != cookie {
		e.t.Fatalf("got %v, want the unbind of cookie %d", fr, cookie)
	}
}

func (e *env) checkStats(want grpcserver.Stats) {
	e.t.Helper()
	// A frame can reach the fake span socket before its counter is bumped.
	deadline := time.Now().Add(2 * time.Second)
	for got := e.m.Stats(); got != want; got = e.m.Stats() {
		if time.Now().After(deadline) {
			e.t.Fatalf("stats\n got %+v\nwant %+v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func wait(t *testing.T, ch chan error) {
	t.Helper()
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
}

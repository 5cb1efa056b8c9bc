package grpcserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/grpcserver"
	"traceiface.local/spanctx/internal/spantest"
)

// counting is the server's own stats handler, which the middleware must keep calling.
type counting struct{ conns, begins, ends atomic.Int64 }

func (c *counting) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	c.conns.Add(1)
	return ctx
}
func (c *counting) HandleConn(context.Context, stats.ConnStats)                     {}
func (c *counting) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (c *counting) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s.(type) {
	case *stats.Begin:
		c.begins.Add(1)
	case *stats.End:
		c.ends.Add(1)
	}
}

// A unary RPC's own connection is bound while it runs and unbound after it; the next RPC on
// the connection binds its own trace, one without traceparent binds nothing.
func TestUnaryBindUnbind(t *testing.T) {
	own := &counting{}
	e := newEnv(t, nil, func(e *env, _ *[]grpc.ServerOption, _ *net.Listener) { e.m.Next = own })
	c := e.dial(nil)

	rel := e.g.set("a")
	done := c.goCall(unary, "a", tp(1))
	e.entered("a")
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, tp(1), "gRPC "+unary, c)
	e.span.None(200*time.Millisecond, "the RPC is still running")
	close(rel)
	wait(t, done)
	cookie := fr.Cookie
	e.checkUnbind(e.span.Next(5*time.Second), cookie)

	if err := c.call(unary, "b", tp(2)); err != nil {
		t.Fatal(err)
	}
	e.checkBind(e.span.Next(5*time.Second), tp(2), "gRPC "+unary, c)
	e.checkUnbind(e.span.Next(5*time.Second), cookie)

	if err := c.call(unary, "c"); err != nil {
		t.Fatal(err)
	}
	e.span.None(300*time.Millisecond, "an RPC without traceparent")
	e.checkStats(grpcserver.Stats{RPCs: 3, Bound: 2, Unbound: 2, NoTraceparent: 1})
	if own.conns.Load() != 1 || own.begins.Load() != 3 || own.ends.Load() != 3 {
		t.Fatalf("the server's own stats handler saw %d connections, %d begins, %d ends",
			own.conns.Load(), own.begins.Load(), own.ends.Load())
	}
}

// Streaming RPCs multiplexed on one connection: each binds it as it starts (the last wins);
// it is unbound once the last has ended. An untraced RPC alongside a traced one unbinds
// nothing.
func TestStreamsLastBindWins(t *testing.T) {
	const n = 5
	e := newEnv(t, nil)
	c := e.dial(nil)
	if err := c.call(streaming, "warm"); err != nil { // the connection, before the RPCs
		t.Fatal(err)
	}
	release := make(chan struct{})
	var results []chan error
	traces := map[spanctx.TraceID]bool{}
	var cookie uint64
	for i := 0; i < n; i++ {
		key := string(rune('a' + i))
		e.g.m.Store(key, release)
		results = append(results, c.goCall(streaming, key, tp(20+i)))
		e.entered(key)
		fr := e.span.Next(5 * time.Second)
		e.checkBind(fr, tp(20+i), "gRPC "+streaming, c)
		if cookie == 0 {
			cookie = fr.Cookie
		} else if fr.Cookie != cookie {
			t.Fatalf("RPCs on one connection bound different sockets: %d and %d", cookie, fr.Cookie)
		}
		traces[fr.Trace] = true
	}
	if len(traces) != n {
		t.Fatalf("%d distinct traces bound, want %d", len(traces), n)
	}
	e.span.None(200*time.Millisecond, "RPCs still running on the connection")
	close(release)
	for _, r := range results {
		wait(t, r)
	}
	e.checkUnbind(e.span.Next(5*time.Second), cookie)
	e.span.None(300*time.Millisecond, "after the unbind")

	// Traced A runs, untraced B starts and ends: A's binding stays until A ends.
	relA, relB := e.g.set("A"), e.g.set("B")
	doneA := c.goCall(streaming, "A", tp(30))
	e.entered("A")
	e.checkBind(e.span.Next(5*time.Second), tp(30), "gRPC "+streaming, c)
	doneB := c.goCall(unary, "B")
	e.entered("B")
	close(relB)
	wait(t, doneB)
	e.span.None(300*time.Millisecond, "an untraced RPC beside a traced one")
	close(relA)
	wait(t, doneA)
	e.checkUnbind(e.span.Next(5*time.Second), cookie)
	e.checkStats(grpcserver.Stats{RPCs: n + 3, Bound: n + 1, Unbound: 2, NoTraceparent: 2})
}

// grpc's writer still holds the tail of a stream whose handler has returned (the client's
// HTTP/2 window is full, while the kernel's send queue is empty): the binding stays until
// grpc has written it all, and is undone once it was acknowledged.
func TestUnbindAfterGrpcWroteTheTail(t *testing.T) {
	e := newEnv(t, nil)
	// A fixed 64 KiB window (no BDP estimation): most of the response waits in grpc.
	c := e.dial(nil, grpc.WithInitialWindowSize(1<<16), grpc.WithInitialConnWindowSize(1<<16))
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(),
		"traceparent", tp(8)), 20*time.Second)
	defer cancel()
	s, err := c.cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true},
		streaming, grpc.CallContentSubtype(codecName))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg([]byte("big")); err != nil {
		t.Fatal(err)
	}
	s.CloseSend()
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, tp(8), "gRPC "+streaming, c)
	e.entered("big sent")
	e.span.None(500*time.Millisecond, "the stream's tail is still in grpc's writer")
	var resp []byte
	if err := s.RecvMsg(&resp); err != nil || len(resp) != bigSize {
		t.Fatalf("got %d bytes, %v", len(resp), err)
	}
	e.checkUnbind(e.span.Next(5*time.Second), fr.Cookie)
	e.checkStats(grpcserver.Stats{RPCs: 1, Bound: 1, Unbound: 1})
}

func TestMalformedTraceparentBindsNothing(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(nil)
	for _, v := range [][]string{
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"garbage"},
		{tp(1), tp(2)}, // repeated
	} {
		if err := c.call(unary, "x", v...); err != nil {
			t.Fatal(err)
		}
	}
	e.span.None(300*time.Millisecond, "malformed traceparents")
	e.checkStats(grpcserver.Stats{RPCs: 6, Malformed: 6})
}

// The peer closes the connection while its RPC runs: the kernel drops the binding with the
// socket, no unbind is sent.
func TestConnectionClosedWhileBound(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial(nil)
	e.g.set("a")
	done := c.goCall(unary, "a", tp(3))
	e.entered("a")
	e.checkBind(e.span.Next(5*time.Second), tp(3), "gRPC "+unary, c)
	c.cc.Close()
	if err := <-done; err == nil {
		t.Fatal("the RPC succeeded on a closed connection")
	}
	e.span.None(500*time.Millisecond, "a closed connection")
	e.checkStats(grpcserver.Stats{RPCs: 1, Bound: 1})
}

// Served without the middleware's listener: RPCs work, counted in NoConn.
func TestWithoutListener(t *testing.T) {
	e := newEnv(t, nil, noWrap)
	if err := e.dial(nil).call(unary, "x", tp(1)); err != nil {
		t.Fatal(err)
	}
	e.span.None(300*time.Millisecond, "no listener")
	e.checkStats(grpcserver.Stats{RPCs: 1, NoConn: 1})
}

// With TLS credentials the TCP socket under the TLS connection is bound.
func TestTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), DNSNames: []string{"test.local"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	withTLS := func(_ *env, o *[]grpc.ServerOption, _ *net.Listener) {
		*o = append(*o, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})))
	}
	e := newEnv(t, nil, withTLS)
	c := e.dial(credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "test.local"}))
	if err := c.call(streaming, "x", tp(4)); err != nil {
		t.Fatal(err)
	}
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, tp(4), "gRPC "+streaming, c)
	e.checkUnbind(e.span.Next(5*time.Second), fr.Cookie)
}

// Without traceiface RPCs are served as usual, promptly; a middleware that owns its span
// socket finds it once it appears.
func TestTraceifaceAbsent(t *testing.T) {
	e := newEnv(t, grpcserver.New(nil))
	if err := e.dial(nil).call(unary, "x", tp(1)); err != nil {
		t.Fatal(err)
	}
	if s := e.m.Stats(); s.Errors != 1 || s.Bound != 0 || s.RPCs != 1 {
		t.Fatalf("%+v", s)
	}

	sock := filepath.Join(t.TempDir(), "absent.sock")
	m := grpcserver.NewSocket(sock)
	defer m.Close()
	e = newEnv(t, m)
	c := e.dial(nil)
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		if err := c.call(unary, "x", tp(i)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("20 RPCs took %v without traceiface", d)
	}
	if s := m.Stats(); s.Errors != 20 || s.Bound != 0 {
		t.Fatalf("%+v", s)
	}
	span := spantest.Start(t, sock)
	for deadline := time.Now().Add(5 * time.Second); m.Stats().Bound == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no bind within 5 s of the span socket appearing: %+v", m.Stats())
		}
		if err := c.call(unary, "x", tp(9)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.checkBind(span.Next(5*time.Second), tp(9), "gRPC "+unary, c)
}

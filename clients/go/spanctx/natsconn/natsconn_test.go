package natsconn_test

import (
	"bytes"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/connbind"
	"traceiface.local/spanctx/internal/spantest"
	"traceiface.local/spanctx/natsconn"
)

func tp(i int) string {
	return fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04x-%016x-01", i, uint64(0xf067aa0ba902b700)+uint64(i))
}

func spanOf(tp string) connbind.Span {
	t, s, f, err := spanctx.ParseTraceparent(tp)
	if err != nil {
		panic(err)
	}
	return connbind.Span{Trace: t, Span: s, Flags: f}
}

// recDialer is the application's own dialer, which natsconn must wrap: it records every
// connection it made and gives it a send buffer large enough for a paused server's backlog.
type recDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *recDialer) Dial(network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4<<20)
		})
	}}
	c, err := nd.Dial(network, address)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

func (d *recDialer) dialed() []net.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]net.Conn(nil), d.conns...)
}

type env struct {
	t    *testing.T
	srv  *natsServer
	span *spantest.Server
	b    *natsconn.Binder
	d    *recDialer
	nc   *natsconn.Conn
	sub  chan *nats.Msg // what a plain subscriber on "orders.>" receives
}

// newEnv: a nats-server, a fake span socket, a Binder over a client of it (nil client when
// absent), a Conn through the recording dialer, and a subscriber on another connection.
func newEnv(t *testing.T, absent bool, opts ...nats.Option) *env {
	e := &env{t: t, srv: startServer(t), d: &recDialer{}, sub: make(chan *nats.Msg, 100)}
	var c *spanctx.Client
	if !absent {
		sock := filepath.Join(t.TempDir(), "span.sock")
		e.span = spantest.Start(t, sock)
		var err error
		if c, err = spanctx.Dial(sock); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	e.b = natsconn.New(c)
	sc, err := nats.Connect(e.srv.url(), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sc.Close)
	if _, err := sc.ChanSubscribe("orders.>", e.sub); err != nil {
		t.Fatal(err)
	}
	sc.Subscribe("svc.echo", func(m *nats.Msg) { m.Respond(append([]byte("re:"), m.Data...)) })
	if err := sc.Flush(); err != nil {
		t.Fatal(err)
	}
	opts = append([]nats.Option{nats.SetCustomDialer(e.d)}, opts...)
	if e.nc, err = e.b.Connect(e.srv.url(), opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.nc.Close)
	return e
}

func msg(subj, traceparent string, size int) *nats.Msg {
	m := nats.NewMsg(subj)
	if traceparent != "" {
		m.Header.Set("traceparent", traceparent)
	}
	m.Data = bytes.Repeat([]byte{'x'}, size)
	return m
}

func (e *env) publish(m *nats.Msg) {
	e.t.Helper()
	if err := e.nc.PublishMsg(m); err != nil {
		e.t.Fatal(err)
	}
}

// checkBind: fr binds span sp named name, passing the TCP connection nats.go uses now, which
// is the one the application's dialer made last.
func (e *env) checkBind(fr spantest.Frame, sp connbind.Span, name string) {
	e.t.Helper()
	if fr.Op != 1 || fr.Trace != sp.Trace || fr.Span != sp.Span || fr.Flags != sp.Flags || fr.Name != name {
		e.t.Fatalf("got %v, want bind of %x/%x named %q", fr, sp.Trace, sp.Span, name)
	}
	dialed := e.d.dialed()
	last := dialed[len(dialed)-1]
	if cur := e.nc.NetConn(); cur != last {
		e.t.Fatalf("Conn.NetConn %v is not the connection dialed last %v", cur, last)
	}
	if fr.Local != last.LocalAddr().String() || fr.Remote != e.srv.addr {
		e.t.Fatalf("passed socket %s->%s, want the client's connection %s->%s", fr.Local,
			fr.Remote, last.LocalAddr(), e.srv.addr)
	}
	if want := spantest.Cookie(last); fr.Cookie == 0 || fr.Cookie != want {
		e.t.Fatalf("passed socket's cookie %d, the client's connection's %d", fr.Cookie, want)
	}
}

func (e *env) checkUnbind(fr spantest.Frame, cookie uint64) {
	e.t.Helper()
	if fr.Op != 2 || fr.Cookie != cookie {
		e.t.Fatalf("got %v, want the unbind of cookie %d", fr, cookie)
	}
}

// received checks that the subscriber gets the messages of traceparents tps, in order.
func (e *env) received(tps ...string) {
	e.t.Helper()
	for _, want := range tps {
		select {
		case m := <-e.sub:
			if got := m.Header.Get("traceparent"); got != want {
				e.t.Fatalf("subscriber got a message with traceparent %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			e.t.Fatalf("subscriber did not get the message of traceparent %q", want)
		}
	}
}

func (e *env) checkStats(want natsconn.Stats) {
	e.t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for got := e.b.Stats(); got != want; got = e.b.Stats() {
		if time.Now().After(deadline) {
			e.t.Fatalf("stats\n got %+v\nwant %+v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A message's traceparent binds the client's own connection to the server, named after the
// subject, unbound once the publish drained; a given span wins over the header; a request
// binds while it waits; untraced publishing binds nothing.
func TestPublishBindsItsConnection(t *testing.T) {
	e := newEnv(t, false)
	e.publish(msg("orders.new", tp(1), 200<<10))
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, spanOf(tp(1)), "NATS PUB orders.new")
	cookie := fr.Cookie
	e.checkUnbind(e.span.Next(5*time.Second), cookie)
	e.received(tp(1))

	if err := e.nc.PublishSpan(spanOf(tp(2)), msg("orders.paid", tp(3), 10)); err != nil {
		t.Fatal(err)
	}
	e.checkBind(e.span.Next(5*time.Second), spanOf(tp(2)), "NATS PUB orders.paid")
	e.checkUnbind(e.span.Next(5*time.Second), cookie)
	e.received(tp(3))

	if err := e.nc.Publish("orders.plain", []byte("x")); err != nil {
		t.Fatal(err)
	}
	e.received("")
	e.span.None(300*time.Millisecond, "a message without traceparent")

	r, err := e.nc.RequestMsg(msg("svc.echo", tp(4), 5), 5*time.Second)
	if err != nil || string(r.Data) != "re:xxxxx" {
		t.Fatalf("request: %v %+v", err, r)
	}
	e.checkBind(e.span.Next(5*time.Second), spanOf(tp(4)), "NATS REQ svc.echo")
	e.checkUnbind(e.span.Next(5*time.Second), cookie)
	e.span.None(300*time.Millisecond, "after the unbind")
	e.checkStats(natsconn.Stats{Published: 4, Bound: 3, Unbound: 3, NoTraceparent: 1})
}

// The binding outlives the publish while the server's kernel has not acknowledged the bytes
// (the server paused, its receive window full), and is undone once they drained.
func TestUnbindAfterDrain(t *testing.T) {
	e := newEnv(t, false)
	e.srv.pause()
	e.publish(msg("orders.big", tp(5), 900<<10))
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, spanOf(tp(5)), "NATS PUB orders.big")
	e.span.None(700*time.Millisecond, "the published bytes are not acknowledged yet")
	e.srv.resume()
	e.checkUnbind(e.span.Next(5*time.Second), fr.Cookie)
	e.received(tp(5))
	e.span.None(300*time.Millisecond, "after the unbind")
	e.checkStats(natsconn.Stats{Published: 1, Bound: 1, Unbound: 1})
}

// A message without traceparent undoes a binding left by an earlier message at once, even
// while that one's bytes are still unacknowledged; the pending drained unbind then does not
// follow. (A fresh server connection: one that read much has grown its receive buffer.)
func TestUntracedUnbindsLeftover(t *testing.T) {
	e := newEnv(t, false)
	e.srv.pause()
	e.publish(msg("orders.big", tp(6), 900<<10))
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, spanOf(tp(6)), "NATS PUB orders.big")
	e.span.None(300*time.Millisecond, "the published bytes are not acknowledged yet")
	e.publish(msg("orders.small", "", 10))
	e.checkUnbind(e.span.Next(time.Second), fr.Cookie) // at once: the server is still paused
	e.span.None(500*time.Millisecond, "unbound already")
	e.srv.resume()
	e.received(tp(6), "")
	e.span.None(300*time.Millisecond, "after the drain")
	e.checkStats(natsconn.Stats{Published: 2, Bound: 1, Unbound: 1, NoTraceparent: 1})
}

// A malformed or repeated traceparent binds nothing and is counted; the message goes out.
func TestMalformedTraceparent(t *testing.T) {
	e := newEnv(t, false)
	bad := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0" // flags cut short
	e.publish(msg("orders.bad", bad, 10))
	two := msg("orders.two", tp(1), 10)
	two.Header.Add("traceparent", tp(2))
	e.publish(two)
	e.received(bad, tp(1))
	e.span.None(300*time.Millisecond, "malformed traceparents")
	e.checkStats(natsconn.Stats{Published: 2, Malformed: 2})
}

// After the server restarted, nats.go reconnects on a new TCP connection: the next message
// binds that one.
func TestReconnectBindsTheNewConnection(t *testing.T) {
	reconnected := make(chan struct{}, 1)
	e := newEnv(t, false, nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(-1),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }))
	e.publish(msg("orders.a", tp(7), 10))
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, spanOf(tp(7)), "NATS PUB orders.a")
	first := fr.Cookie
	e.checkUnbind(e.span.Next(5*time.Second), first)

	e.srv.restart()
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("no reconnect within 10 s")
	}
	e.publish(msg("orders.b", tp(8), 10))
	fr = e.span.Next(5 * time.Second)
	e.checkBind(fr, spanOf(tp(8)), "NATS PUB orders.b")
	if fr.Cookie == first || len(e.d.dialed()) < 2 {
		t.Fatalf("bound cookie %d after the reconnect, the first connection's was %d (%d dialed)",
			fr.Cookie, first, len(e.d.dialed()))
	}
	e.checkUnbind(e.span.Next(5*time.Second), fr.Cookie)
	e.checkStats(natsconn.Stats{Published: 2, Bound: 2, Unbound: 2})
}

// Without traceiface, messages are published as usual and the missed binds counted; a Binder
// made by NewSocket binds once the span socket appears.
func TestTraceifaceAbsent(t *testing.T) {
	e := newEnv(t, true)
	for i := 10; i < 13; i++ {
		e.publish(msg("orders.x", tp(i), 1000))
	}
	e.received(tp(10), tp(11), tp(12))
	e.checkStats(natsconn.Stats{Published: 3, Errors: 3})

	sock := filepath.Join(t.TempDir(), "late.sock")
	b := natsconn.NewSocket(sock)
	defer b.Close()
	nc, err := b.Connect(e.srv.url())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := nc.PublishMsg(msg("orders.y", tp(13), 10)); err != nil {
		t.Fatal(err)
	}
	span := spantest.Start(t, sock)
	time.Sleep(natsconn.RedialInterval + 500*time.Millisecond)
	if err := nc.PublishMsg(msg("orders.y", tp(14), 10)); err != nil {
		t.Fatal(err)
	}
	fr := span.Next(5 * time.Second)
	if fr.Op != 1 || fr.Trace != spanOf(tp(14)).Trace || fr.Cookie != spantest.Cookie(nc.NetConn()) {
		t.Fatalf("got %v, want the bind of %s on cookie %d", fr, tp(14), spantest.Cookie(nc.NetConn()))
	}
	e.received(tp(13), tp(14))
	if s := b.Stats(); s.Errors != 1 || s.Bound != 1 {
		t.Fatalf("late span socket: stats %+v, want 1 error and 1 bind", s)
	}
}

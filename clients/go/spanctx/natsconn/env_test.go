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

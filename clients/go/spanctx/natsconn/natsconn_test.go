package natsconn_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"traceiface.local/spanctx/internal/spantest"
	"traceiface.local/spanctx/natsconn"
)

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

// Back to back, the last message to be published wins the connection (no unbind in between)
// and the connection is unbound once, when all of it drained.
func TestLastPublishWins(t *testing.T) {
	e := newEnv(t, false)
	e.srv.pause()
	e.publish(msg("orders.big", tp(20), 900<<10))
	fr := e.span.Next(5 * time.Second)
	e.checkBind(fr, spanOf(tp(20)), "NATS PUB orders.big")
	e.publish(msg("orders.next", tp(21), 10))
	e.checkBind(e.span.Next(time.Second), spanOf(tp(21)), "NATS PUB orders.next")
	e.span.None(500*time.Millisecond, "the published bytes are not acknowledged yet")
	e.srv.resume()
	e.checkUnbind(e.span.Next(5*time.Second), fr.Cookie)
	e.received(tp(20), tp(21))
	e.span.None(300*time.Millisecond, "after the unbind")
	e.checkStats(natsconn.Stats{Published: 2, Bound: 2, Unbound: 1})
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

package connbind_test

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/connbind"
	"traceiface.local/spanctx/internal/spantest"
)

// pair is a loopback TCP connection: srv is the side bound, peer the other end.
func pair(t *testing.T) (srv, peer net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	peer, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if srv, err = l.Accept(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); peer.Close() })
	return srv, peer
}

func setup(t *testing.T) (*spantest.Server, *connbind.Sender) {
	sock := filepath.Join(t.TempDir(), "span.sock")
	span := spantest.Start(t, sock)
	s := connbind.NewSocket(sock)
	t.Cleanup(func() { s.Close() })
	return span, s
}

func span(i byte) connbind.Span {
	var sp connbind.Span
	for k := range sp.Trace {
		sp.Trace[k] = i
	}
	for k := range sp.Span {
		sp.Span[k] = i + 1
	}
	sp.Flags = 1
	return sp
}

func expect(t *testing.T, fr spantest.Frame, op int, sp connbind.Span, name string, conn net.Conn) {
	t.Helper()
	if fr.Op != op || fr.Cookie != spantest.Cookie(conn) || fr.Local != conn.LocalAddr().String() {
		t.Fatalf("got %v, want op %d on the socket %v (cookie %d)", fr, op, conn.LocalAddr(),
			spantest.Cookie(conn))
	}
	if op == 1 && (fr.Trace != sp.Trace || fr.Span != sp.Span || fr.Flags != sp.Flags || fr.Name != name) {
		t.Fatalf("got %v, want trace %x span %x name %q", fr, sp.Trace, sp.Span, name)
	}
}

func TestLastToStartWinsUnbindWhenNoneLeft(t *testing.T) {
	frames, s := setup(t)
	srv, _ := pair(t)
	b := s.Conn(srv)
	b.Begin(span(1), "first")
	expect(t, frames.Next(5*time.Second), 1, span(1), "first", srv)
	b.Begin(span(3), "second\x01\xff"+strings.Repeat("x", 40))
	expect(t, frames.Next(5*time.Second), 1, span(3), "second??"+strings.Repeat("x", 24), srv)
	b.End()
	frames.None(200*time.Millisecond, "one unit still running")
	b.End()
	expect(t, frames.Next(5*time.Second), 2, connbind.Span{}, "", srv)
	// The frame can arrive before its counter is bumped.
	want, deadline := connbind.Stats{Bound: 2, Unbound: 1}, time.Now().Add(2*time.Second)
	for s.Stats() != want && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if st := s.Stats(); st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
}

func TestUntracedUnitUnbindsALeftover(t *testing.T) {
	frames, s := setup(t)
	srv, _ := pair(t)
	b := s.Conn(srv)
	b.Begin(span(5), "a")
	expect(t, frames.Next(5*time.Second), 1, span(5), "a", srv)
	b.End()
	b.BeginUntraced() // before the drained unbind ran: unbinds at once
	expect(t, frames.Next(5*time.Second), 2, connbind.Span{}, "", srv)
	b.End()
	frames.None(200*time.Millisecond, "nothing bound any more")
}

func TestUnbindWaitsForTheSendQueueToDrain(t *testing.T) {
	frames, s := setup(t)
	srv, peer := pair(t)
	b := s.Conn(srv)
	b.Begin(span(7), "big")
	expect(t, frames.Next(5*time.Second), 1, span(7), "big", srv)
	// The peer does not read: what srv writes beyond the buffers stays unacknowledged.
	srv.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	n, _ := srv.Write(make([]byte, 64<<20))
	srv.SetWriteDeadline(time.Time{})
	if n == 0 {
		t.Fatal("nothing written")
	}
	b.End()
	frames.None(500*time.Millisecond, "the peer has not read what was sent")
	if _, err := io.CopyN(io.Discard, peer, int64(n)); err != nil {
		t.Fatal(err)
	}
	expect(t, frames.Next(5*time.Second), 2, connbind.Span{}, "", srv)
}

func TestIdleConnWaitsForIdleAndCloseCancels(t *testing.T) {
	frames, s := setup(t)
	srv, _ := pair(t)
	b := s.IdleConn(srv)
	b.Begin(span(9), "idle")
	expect(t, frames.Next(5*time.Second), 1, span(9), "idle", srv)
	b.End()
	frames.None(200*time.Millisecond, "not idle yet")
	b.Idle()
	expect(t, frames.Next(5*time.Second), 2, connbind.Span{}, "", srv)

	b.Active()
	b.Begin(span(11), "closing")
	expect(t, frames.Next(5*time.Second), 1, span(11), "closing", srv)
	b.End()
	b.Idle()
	b.Closed() // before the drain check: the kernel dropped the binding, no frame
	frames.None(200*time.Millisecond, "closed")
}

func TestWithoutSpanSocketCountsErrors(t *testing.T) {
	s := connbind.NewSocket(filepath.Join(t.TempDir(), "absent.sock"))
	defer s.Close()
	srv, _ := pair(t)
	b := s.Conn(srv)
	b.Begin(span(1), "x")
	b.End()
	if st := s.Stats(); st.Errors != 1 || st.Bound != 0 {
		t.Fatalf("stats %+v, want one error", st)
	}
	none := connbind.New(nil)
	none.Conn(srv).Begin(span(1), "y")
	if st := none.Stats(); st.Errors != 1 {
		t.Fatalf("stats %+v, want one error", st)
	}
}

func TestSafeName(t *testing.T) {
	long := strings.Repeat("n", spanctx.MaxNameLen+5)
	for in, want := range map[string]string{"ok": "ok", "a\tb\x7f": "a?b?", long: long[:spanctx.MaxNameLen]} {
		if got := connbind.SafeName(in); got != want {
			t.Errorf("SafeName(%q) = %q, want %q", in, got, want)
		}
	}
}

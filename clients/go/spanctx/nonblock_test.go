package spanctx

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// A span server that never reads: TryBind fills its queue and then drops, never waits.
func TestTryBindNeverWaits(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "span.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan *net.UnixConn, 1)
	go func() {
		c, _ := l.AcceptUnix()
		accepted <- c
	}()
	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if peer := <-accepted; peer != nil {
		defer peer.Close()
	}

	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	conn, err := net.Dial("tcp", tl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	start := time.Now()
	for {
		err := c.TryBind(conn, testTrace, testSpan, 1, "GET /x")
		if err == ErrWouldBlock {
			break
		}
		if err != nil {
			t.Fatalf("after %d frames: %v", sent, err)
		}
		if sent++; sent > 1000000 || time.Since(start) > 10*time.Second {
			t.Fatalf("%d frames sent without the queue filling up", sent)
		}
	}
	t0 := time.Now()
	if err := c.TryUnbind(conn); err != ErrWouldBlock {
		t.Fatalf("full queue: got %v, want ErrWouldBlock", err)
	}
	if d := time.Since(t0); d > 100*time.Millisecond {
		t.Fatalf("TryUnbind on a full queue took %v", d)
	}
	t.Logf("queue full after %d frames", sent)

	conn.Close()
	if err := c.TryBind(conn, testTrace, testSpan, 1, ""); err != ErrConnClosed {
		t.Fatalf("closed connection: got %v, want ErrConnClosed", err)
	}
}

package grpcserver

import (
	"net"
	"testing"
)

// Connections never tagged (a failed handshake: grpc closed them) do not pile up: closed ones
// are swept out when the map has grown; open ones stay findable.
func TestAcceptedSweepsClosedConnections(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	m := New(nil)
	wl := m.Listener(l)
	accept := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, err := wl.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	open := accept()
	for i := 0; i < 200; i++ {
		accept().Close()
	}
	m.accepted.mu.Lock()
	n := len(m.accepted.conns)
	m.accepted.mu.Unlock()
	// Swept whenever twice the open ones plus 64 are noted: at most the open one and 65 since.
	if n > 66 {
		t.Fatalf("%d connections noted after 200 closed ones", n)
	}
	if c := m.accepted.take(open.LocalAddr(), open.RemoteAddr()); c != open {
		t.Fatalf("the open connection was swept out: %v", c)
	}
	if c := m.accepted.take(open.LocalAddr(), open.RemoteAddr()); c != nil {
		t.Fatal("taken twice")
	}
}

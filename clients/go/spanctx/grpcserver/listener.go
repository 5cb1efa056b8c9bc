package grpcserver

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"
)

// Listener wraps l so that the RPCs of the connections it accepts can be bound: each
// connection is noted under its addresses and returned as is. Serve the gRPC server on it.
func (m *Middleware) Listener(l net.Listener) net.Listener { return &listener{Listener: l, m: m} }

type listener struct {
	net.Listener
	m *Middleware
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.m.accepted.put(c)
	}
	return c, err
}

// accepted holds the connections accepted but not yet tagged by grpc (during its handshake,
// bounded by grpc.ConnectionTimeout). One whose handshake fails is closed by grpc and never
// tagged: closed ones are swept out whenever the map has doubled since the last sweep.
type accepted struct {
	mu      sync.Mutex
	conns   map[addrPair]net.Conn
	sweepAt int
}

// addrPair: a TCP connection's local and remote address, unique among open connections.
type addrPair struct{ local, remote string }

func pairOf(local, remote net.Addr) addrPair {
	return addrPair{local.Network() + " " + local.String(), remote.Network() + " " + remote.String()}
}

func (a *accepted) put(c net.Conn) {
	if c.LocalAddr() == nil || c.RemoteAddr() == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conns == nil {
		a.conns = map[addrPair]net.Conn{}
	}
	if len(a.conns) >= a.sweepAt {
		for k, old := range a.conns {
			if isClosed(old) {
				delete(a.conns, k)
			}
		}
		a.sweepAt = 2*len(a.conns) + 64
	}
	// A pair still noted belongs to a closed connection whose handshake failed.
	a.conns[pairOf(c.LocalAddr(), c.RemoteAddr())] = c
}

// take returns and forgets the connection with these addresses, nil when none was noted.
func (a *accepted) take(local, remote net.Addr) net.Conn {
	k := pairOf(local, remote)
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.conns[k]
	delete(a.conns, k)
	return c
}

// isClosed: c's socket was closed (its file descriptor is gone). A connection without a
// socket is never bound: it counts as closed.
func isClosed(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	return raw.Control(func(uintptr) {}) != nil
}

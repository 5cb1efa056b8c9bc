package connbind

import (
	"errors"
	"net"
	"sync"
	"time"

	"traceiface.local/spanctx"
)

// How long a connection with no work left may keep its binding while the kernel still holds
// unacknowledged bytes of that work: checked from drainFirst on, interval doubling up to
// drainMaxInterval; after drainGiveUp it is unbound anyway.
const (
	drainFirst       = 10 * time.Millisecond
	drainMaxInterval = time.Second
	drainGiveUp      = time.Minute
)

// Span is the trace context a unit of work binds its connection to.
type Span struct {
	Trace spanctx.TraceID
	Span  spanctx.SpanID
	Flags byte
}

// Valid: neither id is zero (traceiface ignores such a binding).
func (s Span) Valid() bool { return s.Trace != (spanctx.TraceID{}) && s.Span != (spanctx.SpanID{}) }

// Conn is one TCP connection's binding; safe for concurrent use. Frames for a connection are
// sent under its lock, so a bind and an unbind never overtake each other.
type Conn struct {
	s        *Sender
	conn     net.Conn
	mu       sync.Mutex
	waitIdle bool // unbind waits for Idle after the last End (net/http's ConnState)
	active   int  // units of work running on it (HTTP/2, gRPC: several)
	bound    bool // a bind was sent since the last unbind
	idle     bool // Idle was called (and not Active since)
	closed   bool
	gen      uint64 // bumped by each unit and at close: pending unbinds of older ones give up
}

// Conn follows conn (a *net.TCPConn, or a *tls.Conn over one): the binding is undone when
// the last unit of work on it ends and its send queue has drained.
func (s *Sender) Conn(conn net.Conn) *Conn { return &Conn{s: s, conn: conn} }

// IdleConn is Conn, but the unbind also waits for Idle: for servers that say when a
// connection waits for its next request (net/http's ConnState), so that a response written
// after the handler returned still counts.
func (s *Sender) IdleConn(conn net.Conn) *Conn { return &Conn{s: s, conn: conn, waitIdle: true} }

// NetConn is the connection followed.
func (b *Conn) NetConn() net.Conn { return b.conn }

// Begin: a unit of work of span sp starts on the connection, which is bound to it (the last
// to start wins). name is the span name (made safe with SafeName). Every Begin needs an End.
func (b *Conn) Begin(sp Span, name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.active++
	b.gen++
	if b.closed {
		return
	}
	if b.s.send(func(c *spanctx.Client) error {
		return c.TryBind(b.conn, sp.Trace, sp.Span, sp.Flags, SafeName(name))
	}, &b.s.bound) {
		b.bound = true
	}
}

// BeginUntraced: a unit of work without a trace starts. A binding left from earlier work is
// undone at once when no other unit is running (it is not this unit's trace).
func (b *Conn) BeginUntraced() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.active++
	b.gen++
	if b.bound && b.active == 1 && !b.closed {
		b.unbindLocked()
	}
}

// End: a unit of work started by Begin or BeginUntraced ended. With none left the binding is
// undone once the send queue has drained (and, for an IdleConn, the connection is idle).
func (b *Conn) End() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.active > 0 {
		b.active--
	}
	if b.active == 0 && b.bound && (!b.waitIdle || b.idle) {
		b.unbindWhenDrained()
	}
}

// Active: an IdleConn's connection is reading a request again.
func (b *Conn) Active() {
	b.mu.Lock()
	b.idle = false
	b.mu.Unlock()
}

// Idle: an IdleConn's connection waits for its next request.
func (b *Conn) Idle() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.idle = true
	if b.active == 0 && b.bound {
		b.unbindWhenDrained()
	}
}

// Detach: Idle will not be called any more (the connection was hijacked); the end of the
// last unit unbinds.
func (b *Conn) Detach() {
	b.mu.Lock()
	b.waitIdle, b.idle = false, false
	b.mu.Unlock()
}

// Closed: the connection is closed; the kernel deleted its binding with the socket.
func (b *Conn) Closed() {
	b.mu.Lock()
	b.closed, b.bound = true, false
	b.gen++
	b.mu.Unlock()
}

// unbindLocked unbinds now (b.mu held). A frame that could not be sent is not retried: the
// binding then ends with the connection or by traceiface's TTL.
func (b *Conn) unbindLocked() {
	b.s.send(func(c *spanctx.Client) error { return c.TryUnbind(b.conn) }, &b.s.unbound)
	b.bound = false
}

// unbindWhenDrained unbinds (b.mu held) once the send queue is empty, unless a unit starts or
// the connection closes first.
func (b *Conn) unbindWhenDrained() {
	gen, start := b.gen, time.Now()
	var check func(d time.Duration)
	check = func(d time.Duration) {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.gen != gen || b.closed || !b.bound || b.active > 0 {
			return
		}
		n, err := outq(b.conn)
		if errors.Is(err, net.ErrClosed) {
			b.bound = false
			return
		}
		if err == nil && n > 0 && time.Since(start) < drainGiveUp {
			next := 2 * d
			if next > drainMaxInterval {
				next = drainMaxInterval
			}
			time.AfterFunc(d, func() { check(next) })
			return
		}
		b.unbindLocked()
	}
	time.AfterFunc(drainFirst, func() { check(2 * drainFirst) })
}

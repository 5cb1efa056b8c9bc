// Package connbind keeps TCP connections bound to the trace of the work on them, for
// traceiface's integrations (httpserver, grpcserver, natsconn, sqlconn): a unit of work
// (request, RPC, query, publish) that starts on a connection binds it to its trace, the last
// to start wins (one binding per connection in traceiface), and when no unit is left the
// binding is undone once the kernel's send queue of the connection has drained (SIOCOUTQ:
// everything sent was acknowledged), so retransmits of a response's tail still count for
// its trace while an idle connection belongs to none.
//
// Frames are sent without ever waiting (spanctx.Client.TryBind): when traceiface is absent,
// restarting or not keeping up, the work goes on and the miss is counted (Stats).
package connbind

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"traceiface.local/spanctx"
)

// RedialInterval is how often a Sender made by NewSocket tries to reach the span socket again
// while it is unavailable.
const RedialInterval = time.Second

// Stats are a Sender's frame counters since it was made.
type Stats struct {
	Bound   uint64 // bind frames sent
	Unbound uint64 // unbind frames sent
	Dropped uint64 // frames dropped: the span socket's buffer was full
	Errors  uint64 // frames not sent: no span socket (traceiface absent, restarted), ...
}

// Sender sends the bind and unbind frames of its Conns over one span-socket client; safe
// for concurrent use.
type Sender struct {
	socket  string // NewSocket: dialed, redialed, closed by the Sender
	client  atomic.Pointer[spanctx.Client]
	dialing atomic.Bool
	done    chan struct{}
	once    sync.Once

	bound, unbound, dropped, errs atomic.Uint64
}

// New makes a Sender over c, which the caller owns. c may be nil: nothing is bound, every
// frame counts as an error.
func New(c *spanctx.Client) *Sender {
	s := &Sender{done: make(chan struct{})}
	if c != nil {
		s.client.Store(c)
	}
	return s
}

// NewSocket makes a Sender with its own connection to the span socket at path
// (spanctx.DefaultSocket when empty), dialed now and, while unavailable (traceiface not yet
// started, restarted), again every RedialInterval in the background. Close ends it.
func NewSocket(path string) *Sender {
	if path == "" {
		path = spanctx.DefaultSocket
	}
	s := New(nil)
	s.socket = path
	if c, err := spanctx.Dial(path); err == nil {
		s.client.Store(c)
	} else {
		s.redial(nil)
	}
	return s
}

// Close stops redialing and closes the span-socket connection NewSocket made (a client passed
// to New stays open). Bindings stay until their connections close or traceiface's TTL.
func (s *Sender) Close() error {
	s.once.Do(func() { close(s.done) })
	if s.socket == "" {
		return nil
	}
	if c := s.client.Swap(nil); c != nil {
		return c.Close()
	}
	return nil
}

// Stats returns the counters.
func (s *Sender) Stats() Stats {
	return Stats{Bound: s.bound.Load(), Unbound: s.unbound.Load(), Dropped: s.dropped.Load(),
		Errors: s.errs.Load()}
}

// SafeName is n as traceiface takes a span name: cut to spanctx.MaxNameLen bytes, bytes other
// than printable ASCII replaced by '?'.
func SafeName(n string) string {
	if len(n) > spanctx.MaxNameLen {
		n = n[:spanctx.MaxNameLen]
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x20 || n[i] > 0x7e {
			b := []byte(n)
			for j := i; j < len(b); j++ {
				if b[j] < 0x20 || b[j] > 0x7e {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return n
}

// send sends one frame, counting it in ok when sent; true when sent.
func (s *Sender) send(frame func(*spanctx.Client) error, ok *atomic.Uint64) bool {
	c := s.client.Load()
	if c == nil {
		s.errs.Add(1)
		return false
	}
	err := frame(c)
	switch {
	case err == nil:
		ok.Add(1)
		return true
	case errors.Is(err, spanctx.ErrConnClosed):
	case errors.Is(err, spanctx.ErrWouldBlock):
		s.dropped.Add(1)
	default:
		s.errs.Add(1)
		if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ENOTCONN) ||
			errors.Is(err, syscall.ECONNREFUSED) {
			s.redial(c)
		}
	}
	return false
}

// redial dials the span socket again in the background, every RedialInterval until it
// succeeds, when the Sender owns its client and failed is still the current one.
func (s *Sender) redial(failed *spanctx.Client) {
	if s.socket == "" || s.client.Load() != failed || !s.dialing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.dialing.Store(false)
		t := time.NewTicker(RedialInterval)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			c, err := spanctx.Dial(s.socket)
			if err != nil {
				continue
			}
			if s.isClosed() || !s.client.CompareAndSwap(failed, c) {
				c.Close()
				return
			}
			if failed != nil {
				failed.Close()
			}
			if s.isClosed() && s.client.CompareAndSwap(c, nil) { // Close ran meanwhile
				c.Close()
			}
			return
		}
	}()
}

func (s *Sender) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

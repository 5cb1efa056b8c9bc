package natsconn

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/connbind"
)

// RedialInterval is how often a Binder made by NewSocket tries to reach the span socket again
// while it is unavailable.
const RedialInterval = connbind.RedialInterval

// Small messages wait in nats.go's buffer for its flusher goroutine, which the publish kicked:
// the end of a publish waits up to flushWait (polling every flushPoll) for the buffer to be
// handed to the kernel, whose send queue connbind then watches.
const (
	flushPoll = time.Millisecond
	flushWait = 100 * time.Millisecond
)

// Stats are a Binder's counters since it was made.
type Stats struct {
	Published     uint64 // messages published (requests included) through its Conns
	Bound         uint64 // bind frames sent
	Unbound       uint64 // unbind frames sent
	NoTraceparent uint64 // messages without traceparent (nor a span given): nothing bound
	Malformed     uint64 // messages whose traceparent is malformed or repeated: nothing bound
	Dropped       uint64 // frames dropped: the span socket's buffer was full
	Errors        uint64 // frames not sent: no span socket (traceiface absent, restarted), ...
}

// Binder binds its Conns' TCP connections to the traces of the messages they publish; safe
// for concurrent use, one per span-socket client (many NATS connections may share one).
type Binder struct {
	// Name gives a message's span name, cut to spanctx.MaxNameLen bytes, other bytes than
	// printable ASCII replaced by '?'. request: RequestMsg or Request. nil: "NATS PUB " or
	// "NATS REQ " + subject. Set it before publishing.
	Name func(m *nats.Msg, request bool) string

	sender *connbind.Sender

	published, noTraceparent, malformed atomic.Uint64
}

// New makes a Binder sending over c, which the caller owns. c may be nil: nothing is bound,
// every bind counts as an error.
func New(c *spanctx.Client) *Binder { return &Binder{sender: connbind.New(c)} }

// NewSocket makes a Binder with its own connection to the span socket at path
// (spanctx.DefaultSocket when empty), dialed now and, while unavailable (traceiface not yet
// started, restarted), again every RedialInterval in the background. Close ends it.
func NewSocket(path string) *Binder { return &Binder{sender: connbind.NewSocket(path)} }

// Close stops redialing and closes the span-socket connection NewSocket made (a client passed
// to New stays open). Bindings stay until their connections close or traceiface's TTL.
func (b *Binder) Close() error { return b.sender.Close() }

// Stats returns the counters.
func (b *Binder) Stats() Stats {
	f := b.sender.Stats()
	return Stats{
		Published:     b.published.Load(),
		Bound:         f.Bound,
		Unbound:       f.Unbound,
		NoTraceparent: b.noTraceparent.Load(),
		Malformed:     b.malformed.Load(),
		Dropped:       f.Dropped,
		Errors:        f.Errors,
	}
}

// Conn is a NATS connection whose publishing methods bind its TCP connection; the rest is
// the embedded *nats.Conn's.
type Conn struct {
	*nats.Conn
	b   *Binder
	mu  sync.Mutex
	cur *connbind.Conn // the TCP connection dialed last: nats.go's current one
}

// Connect is nats.Connect(url, opts...) with the dialer that lets the Conn find its TCP
// connection: it wraps the nats.CustomDialer or nats.Dialer the options set.
func (b *Binder) Connect(url string, opts ...nats.Option) (*Conn, error) {
	c := &Conn{b: b}
	// Last, so that it sees (and wraps) whatever dialer the caller's options chose.
	opts = append(opts[:len(opts):len(opts)], func(o *nats.Options) error {
		var next nats.CustomDialer = o.CustomDialer
		if next == nil && o.Dialer != nil {
			next = o.Dialer
		}
		if next == nil {
			next = &net.Dialer{Timeout: o.Timeout}
		}
		o.CustomDialer = &dialer{c: c, next: next}
		return nil
	})
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		c.setConn(nil)
		return nil, err
	}
	c.Conn = nc
	return c, nil
}

// dialer keeps the connection its Conn's nats.go dialed last.
type dialer struct {
	c    *Conn
	next nats.CustomDialer
}

func (d *dialer) Dial(network, address string) (net.Conn, error) {
	conn, err := d.next.Dial(network, address)
	if err == nil {
		d.c.setConn(conn)
	}
	return conn, err
}

// SkipTLSHandshake keeps the wrapped dialer's answer: nats.go asks its CustomDialer.
func (d *dialer) SkipTLSHandshake() bool {
	s, ok := d.next.(interface{ SkipTLSHandshake() bool })
	return ok && s.SkipTLSHandshake()
}

// setConn: conn replaces the current TCP connection (nil: none), whose binding, if any, dies
// with it (nats.go closes a connection before dialing the next).
func (c *Conn) setConn(conn net.Conn) {
	var nb *connbind.Conn
	if conn != nil {
		nb = c.b.sender.Conn(conn)
	}
	c.mu.Lock()
	old := c.cur
	c.cur = nb
	c.mu.Unlock()
	if old != nil {
		old.Closed()
	}
}

// NetConn is the TCP connection dialed last (nil before the first dial): the one bound.
func (c *Conn) NetConn() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return nil
	}
	return c.cur.NetConn()
}

// Close closes the NATS connection.
func (c *Conn) Close() {
	c.Conn.Close()
	c.setConn(nil)
}

// Publish publishes data untraced (no headers to carry a traceparent).
func (c *Conn) Publish(subj string, data []byte) error {
	return c.do(nil, nil, false, func() error { return c.Conn.Publish(subj, data) })
}

// PublishRequest publishes data untraced with a reply subject.
func (c *Conn) PublishRequest(subj, reply string, data []byte) error {
	return c.do(nil, nil, false, func() error { return c.Conn.PublishRequest(subj, reply, data) })
}

// PublishMsg publishes m, the connection bound to the span of m's traceparent header.
func (c *Conn) PublishMsg(m *nats.Msg) error {
	return c.do(m, nil, false, func() error { return c.Conn.PublishMsg(m) })
}

// PublishSpan publishes m, the connection bound to sp whatever m's headers say (an invalid
// sp: untraced).
func (c *Conn) PublishSpan(sp connbind.Span, m *nats.Msg) error {
	return c.do(m, &sp, false, func() error { return c.Conn.PublishMsg(m) })
}

// RequestMsg sends the request m and waits for the reply, the connection bound to the span
// of m's traceparent header meanwhile.
func (c *Conn) RequestMsg(m *nats.Msg, timeout time.Duration) (*nats.Msg, error) {
	var r *nats.Msg
	err := c.do(m, nil, true, func() (err error) { r, err = c.Conn.RequestMsg(m, timeout); return })
	return r, err
}

// RequestMsgWithContext is RequestMsg bounded by ctx.
func (c *Conn) RequestMsgWithContext(ctx context.Context, m *nats.Msg) (*nats.Msg, error) {
	var r *nats.Msg
	err := c.do(m, nil, true, func() (err error) { r, err = c.Conn.RequestMsgWithContext(ctx, m); return })
	return r, err
}

// Request sends an untraced request and waits for the reply.
func (c *Conn) Request(subj string, data []byte, timeout time.Duration) (*nats.Msg, error) {
	var r *nats.Msg
	err := c.do(nil, nil, true, func() (err error) { r, err = c.Conn.Request(subj, data, timeout); return })
	return r, err
}

// do runs publish, the current connection bound to the message's span meanwhile and until
// its bytes drained. m nil: untraced. sp: the span given instead of m's traceparent.
// request: a request (for the name).
func (c *Conn) do(m *nats.Msg, sp *connbind.Span, request bool, publish func() error) error {
	c.b.published.Add(1)
	c.mu.Lock()
	bc := c.cur
	c.mu.Unlock()
	if bc == nil { // not connected yet (nats.RetryOnFailedConnect): nats.go buffers it
		return publish()
	}
	if span, ok := c.b.traceOf(m, sp); ok {
		bc.Begin(span, c.b.name(m, request))
	} else {
		bc.BeginUntraced()
	}
	err := publish()
	c.endWhenFlushed(bc)
	return err
}

// endWhenFlushed ends bc's unit once nats.go's buffer is empty (or after flushWait): bytes
// still there are the publish's, not yet in the send queue connbind watches.
func (c *Conn) endWhenFlushed(bc *connbind.Conn) {
	if n, err := c.Conn.Buffered(); err != nil || n <= 0 {
		bc.End()
		return
	}
	deadline := time.Now().Add(flushWait)
	var check func()
	check = func() {
		if n, err := c.Conn.Buffered(); err == nil && n > 0 && time.Now().Before(deadline) {
			time.AfterFunc(flushPoll, check)
			return
		}
		bc.End()
	}
	time.AfterFunc(flushPoll, check)
}

func (b *Binder) traceOf(m *nats.Msg, sp *connbind.Span) (connbind.Span, bool) {
	if sp != nil {
		if sp.Valid() {
			return *sp, true
		}
		b.noTraceparent.Add(1)
		return connbind.Span{}, false
	}
	var vals []string
	if m != nil && m.Header != nil {
		// Header keys are case-sensitive in nats.go: accept the W3C spelling and the
		// canonical form a Header.Set of net/http style would have produced.
		vals = append(m.Header.Values("traceparent"), m.Header.Values("Traceparent")...)
	}
	switch {
	case len(vals) == 0:
		b.noTraceparent.Add(1)
		return connbind.Span{}, false
	case len(vals) > 1:
		b.malformed.Add(1)
		return connbind.Span{}, false
	}
	t, p, flags, err := spanctx.ParseTraceparent(vals[0])
	if err != nil {
		b.malformed.Add(1)
		return connbind.Span{}, false
	}
	return connbind.Span{Trace: t, Span: p, Flags: flags}, true
}

func (b *Binder) name(m *nats.Msg, request bool) string {
	if b.Name != nil {
		return b.Name(m, request)
	}
	if request {
		return "NATS REQ " + m.Subject
	}
	return "NATS PUB " + m.Subject
}

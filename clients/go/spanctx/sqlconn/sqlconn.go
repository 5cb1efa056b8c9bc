package sqlconn

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/connbind"
)

// RedialInterval is how often a Binder made by NewSocket tries to reach the span socket again
// while it is unavailable.
const RedialInterval = connbind.RedialInterval

// Stats are a Binder's counters since it was made.
type Stats struct {
	Queries uint64 // units of work seen: queries, execs, prepares, transactions, pings
	Bound   uint64 // bind frames sent
	Unbound uint64 // unbind frames sent
	NoSpan  uint64 // units whose context carried no span: nothing bound
	NoConn  uint64 // units on a connection whose TCP socket is unknown (no DialFunc/Dialer, unix socket)
	Dropped uint64 // frames dropped: the span socket's buffer was full
	Errors  uint64 // frames not sent: no span socket (traceiface absent, restarted), ...
}

// Binder binds the connections of the *sql.DBs it opens to their queries' traces; safe for
// concurrent use, one per span-socket client (several DBs may share one).
type Binder struct {
	// SpanOf gives the span of a query's context when ContextWithSpan and
	// ContextWithTraceparent did not set one (e.g. from OpenTelemetry); ok false: none. Set
	// it before opening DBs.
	SpanOf func(ctx context.Context) (t spanctx.TraceID, s spanctx.SpanID, flags byte, ok bool)

	sender *connbind.Sender

	queries, noSpan, noConn atomic.Uint64
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
		Queries: b.queries.Load(),
		Bound:   f.Bound,
		Unbound: f.Unbound,
		NoSpan:  b.noSpan.Load(),
		NoConn:  b.noConn.Load(),
		Dropped: f.Dropped,
		Errors:  f.Errors,
	}
}

// OpenDB is sql.OpenDB(b.Connector(c)).
func (b *Binder) OpenDB(c driver.Connector) *sql.DB { return sql.OpenDB(b.Connector(c)) }

// Connector wraps c, whose driver must dial through DialFunc or Dialer: the connections it
// makes bind to their queries' traces.
func (b *Binder) Connector(c driver.Connector) driver.Connector { return &connector{c, b} }

type connector struct {
	inner driver.Connector
	b     *Binder
}

func (c *connector) Driver() driver.Driver { return c.inner.Driver() }

// Close closes the driver's connector when it has a Close (sql.DB.Close calls it).
func (c *connector) Close() error {
	if cl, ok := c.inner.(io.Closer); ok {
		return cl.Close()
	}
	return nil
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	h := new(handoff)
	dc, err := c.inner.Connect(context.WithValue(ctx, handoffKey{}, h))
	if err != nil {
		return nil, err
	}
	w := &conn{inner: dc, b: c.b}
	if nc := h.get(); nc != nil {
		w.bind = c.b.sender.Conn(nc)
	}
	return w, nil
}

// handoff carries the socket the dialer made from the driver's dial back to Connect, through
// the context Connect passes on: concurrent Connects keep their own.
type handoff struct {
	mu   sync.Mutex
	conn net.Conn
}

type handoffKey struct{}

func (h *handoff) get() net.Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conn
}

// DialFunc wraps dial (nil: a net.Dialer's DialContext) for drivers taking a dial function
// (pgx: pgconn.Config.DialFunc): it records the TCP socket for the Binder's Connector. The
// last socket dialed during one Connect wins: a driver that falls back (pgx: sslmode=prefer
// retries without TLS) closed the earlier ones.
func DialFunc(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if h, ok := ctx.Value(handoffKey{}).(*handoff); ok && err == nil {
			if _, tcp := nc.(*net.TCPConn); tcp {
				h.mu.Lock()
				h.conn = nc
				h.mu.Unlock()
			}
		}
		return nc, err
	}
}

// NetDialer is DialFunc as a dialer value (lib/pq: pq.Connector.Dialer).
type NetDialer struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Dialer is DialFunc(dial) as a NetDialer.
func Dialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) *NetDialer {
	return &NetDialer{DialFunc(dial)}
}

// DialContext dials; during a Binder's Connect the socket is recorded.
func (d *NetDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dial(ctx, network, addr)
}

// Dial dials without a deadline.
func (d *NetDialer) Dial(network, addr string) (net.Conn, error) {
	return d.dial(context.Background(), network, addr)
}

// DialTimeout dials within timeout.
func (d *NetDialer) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.dial(ctx, network, addr)
}

type spanKey struct{}

// ContextWithSpan returns ctx carrying the span the queries run with it bind their
// connection to: the client span of the query (or of the operation making it). Zero ids are
// ignored.
func ContextWithSpan(ctx context.Context, t spanctx.TraceID, s spanctx.SpanID, flags byte) context.Context {
	return context.WithValue(ctx, spanKey{}, connbind.Span{Trace: t, Span: s, Flags: flags})
}

// ContextWithTraceparent is ContextWithSpan with a W3C traceparent header's trace id, parent
// id and flags; a malformed one returns ctx unchanged and the error.
func ContextWithTraceparent(ctx context.Context, traceparent string) (context.Context, error) {
	t, p, flags, err := spanctx.ParseTraceparent(traceparent)
	if err != nil {
		return ctx, err
	}
	return ContextWithSpan(ctx, t, p, flags), nil
}

// spanOf is the span ctx's queries bind their connection to.
func (b *Binder) spanOf(ctx context.Context) (connbind.Span, bool) {
	if s, ok := ctx.Value(spanKey{}).(connbind.Span); ok && s.Valid() {
		return s, true
	}
	if b.SpanOf != nil {
		if t, s, f, ok := b.SpanOf(ctx); ok {
			sp := connbind.Span{Trace: t, Span: s, Flags: f}
			return sp, sp.Valid()
		}
	}
	return connbind.Span{}, false
}

// Unwrap is the driver's own connection under a connection of a Binder's *sql.DB (as
// sql.Conn.Raw passes it); other connections are returned as they are.
func Unwrap(dc driver.Conn) driver.Conn {
	if w, ok := dc.(*conn); ok {
		return w.inner
	}
	return dc
}

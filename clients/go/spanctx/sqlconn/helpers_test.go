package sqlconn_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/stdlib"
	"github.com/lib/pq"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/internal/spantest"
	"traceiface.local/spanctx/sqlconn"
)

// dialed records the sockets a driver dials, the last one being the connection's.
type dialed struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *dialed) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.conns = append(d.conns, c)
		d.mu.Unlock()
	}
	return c, err
}

// cookies are SO_COOKIE of the dialed sockets still open.
func (d *dialed) cookies() []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []uint64
	for _, c := range d.conns {
		if k := cookieOf(c); k != 0 {
			out = append(out, k)
		}
	}
	return out
}

var cookieOf = spantest.Cookie

// drivers open a *sql.DB through b for each driver, recording its sockets. pgx runs with
// sslmode=prefer: against this server without TLS it dials twice, the last socket counts.
var drivers = []struct {
	name string
	open func(t *testing.T, b *sqlconn.Binder, d *dialed) *sql.DB
}{
	{"pgx", func(t *testing.T, b *sqlconn.Binder, d *dialed) *sql.DB {
		cfg, err := pgx.ParseConfig(pgDSN("sslmode=prefer"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.DialFunc = sqlconn.DialFunc(d.dial)
		name := stdlib.RegisterConnConfig(cfg)
		t.Cleanup(func() { stdlib.UnregisterConnConfig(name) })
		c, err := stdlib.GetDefaultDriver().(driver.DriverContext).OpenConnector(name)
		if err != nil {
			t.Fatal(err)
		}
		return b.OpenDB(c)
	}},
	{"pq", func(t *testing.T, b *sqlconn.Binder, d *dialed) *sql.DB {
		c, err := pq.NewConnector(pgDSN())
		if err != nil {
			t.Fatal(err)
		}
		c.Dialer(sqlconn.Dialer(d.dial))
		return b.OpenDB(c)
	}},
}

// env is one test's span socket, Binder and DB (one connection unless raised).
type env struct {
	t   *testing.T
	srv *spantest.Server
	b   *sqlconn.Binder
	db  *sql.DB
	d   *dialed
}

func setup(t *testing.T, open func(*testing.T, *sqlconn.Binder, *dialed) *sql.DB) *env {
	needPostgres(t)
	path := filepath.Join(t.TempDir(), "span.sock")
	e := &env{t: t, srv: spantest.Start(t, path), d: &dialed{}}
	e.b = sqlconn.NewSocket(path)
	t.Cleanup(func() { e.b.Close() })
	e.db = open(t, e.b, e.d)
	t.Cleanup(func() { e.db.Close() })
	e.db.SetMaxOpenConns(1)
	return e
}

func eachDriver(t *testing.T, f func(t *testing.T, e *env)) {
	for _, dr := range drivers {
		dr := dr
		t.Run(dr.name, func(t *testing.T) { f(t, setup(t, dr.open)) })
	}
}

func span(i byte) (spanctx.TraceID, spanctx.SpanID) {
	return spanctx.TraceID{0x4b, 0xf9, 15: i}, spanctx.SpanID{0xa1, 7: i}
}

func ctxOf(i byte) context.Context {
	tr, sp := span(i)
	return sqlconn.ContextWithSpan(context.Background(), tr, sp, 1)
}

// bind expects a bind frame of span i named name on one of the driver's open sockets; it
// returns that socket's cookie.
func (e *env) bind(i byte, name string) uint64 {
	e.t.Helper()
	fr := e.srv.Next(wait)
	tr, sp := span(i)
	if fr.Op != 1 || fr.Trace != tr || fr.Span != sp || fr.Flags != 1 || fr.Name != name {
		e.t.Fatalf("got %v, want bind of span %d named %q", fr, i, name)
	}
	if fr.Remote != pgAddr {
		e.t.Fatalf("bound socket's peer %s, want the server %s", fr.Remote, pgAddr)
	}
	for _, k := range e.d.cookies() {
		if k == fr.Cookie {
			return k
		}
	}
	e.t.Fatalf("bound socket (cookie %d) is none of the driver's open sockets %v", fr.Cookie, e.d.cookies())
	return 0
}

func (e *env) unbind(cookie uint64) {
	e.t.Helper()
	if fr := e.srv.Next(wait); fr.Op != 2 || fr.Cookie != cookie {
		e.t.Fatalf("got %v, want unbind of cookie %d", fr, cookie)
	}
}

func (e *env) stats(want sqlconn.Stats) {
	e.t.Helper()
	// The counters follow the frames' sending: they may lag what the span socket received.
	got := e.b.Stats()
	for end := time.Now().Add(time.Second); got != want && time.Now().Before(end); got = e.b.Stats() {
		time.Sleep(10 * time.Millisecond)
	}
	if got != want {
		e.t.Fatalf("stats %+v, want %+v", got, want)
	}
}

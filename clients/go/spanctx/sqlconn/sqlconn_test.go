package sqlconn_test

import (
	"bytes"
	"context"
	"database/sql/driver"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v4/stdlib"
	"github.com/lib/pq"

	"traceiface.local/spanctx/sqlconn"
)

const wait = 5 * time.Second

// A query with a span binds the query's socket, until its rows are closed and drained.
func TestQueryBinds(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *env) {
		blob := bytes.Repeat([]byte{0x5a}, 1<<20)
		rows, err := e.db.QueryContext(ctxOf(1), "  /* q */ select length($1::bytea)", blob)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(e.d.cookies()); n != 1 {
			t.Fatalf("%d open sockets, want 1", n)
		}
		t.Logf("the driver dialed %d sockets", len(e.d.conns))
		k := e.bind(1, "SQL SELECT")
		e.srv.None(300*time.Millisecond, "rows not closed yet")
		var n int
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
		}
		if err := rows.Err(); err != nil || n != len(blob) {
			t.Fatalf("length %d (%v), want %d", n, err, len(blob))
		}
		e.unbind(k) // database/sql closed the rows at their end
		e.srv.None(200*time.Millisecond, "after the unbind")
		e.stats(sqlconn.Stats{Queries: 1, Bound: 1, Unbound: 1})
	})
}

// Queries without span bind nothing; one right after a traced query leaves no binding.
func TestUntracedQueries(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		if _, err := e.db.ExecContext(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		e.srv.None(200*time.Millisecond, "untraced exec on a new connection")
		if _, err := e.db.ExecContext(ctxOf(2), "SELECT pg_sleep(0)"); err != nil {
			t.Fatal(err)
		}
		// The untraced query right after: its start or the drained send queue unbinds.
		var one int
		if err := e.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		e.unbind(e.bind(2, "SQL SELECT"))
		if err := e.db.QueryRowContext(ctx, "SELECT 2").Scan(&one); err != nil {
			t.Fatal(err)
		}
		e.srv.None(300*time.Millisecond, "untraced queries")
		e.stats(sqlconn.Stats{Queries: 4, Bound: 1, Unbound: 1, NoSpan: 3})
	})
}

// A transaction keeps its span's binding across its statements, untraced or with their own
// span (the last to start wins), until Commit.
func TestTransaction(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *env) {
		tx, err := e.db.BeginTx(ctxOf(3), nil)
		if err != nil {
			t.Fatal(err)
		}
		k := e.bind(3, "SQL BEGIN")
		if _, err := tx.ExecContext(context.Background(), "CREATE TEMP TABLE t (b bytea)"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // a drain check would have unbound by now
		if _, err := tx.ExecContext(ctxOf(4), "INSERT INTO t VALUES ($1)", make([]byte, 100000)); err != nil {
			t.Fatal(err)
		}
		if k4 := e.bind(4, "SQL INSERT"); k4 != k {
			t.Fatalf("the transaction's statement bound socket %d, the transaction %d", k4, k)
		}
		var n int
		if err := tx.QueryRowContext(context.Background(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
			t.Fatalf("count %d, %v", n, err)
		}
		e.srv.None(300*time.Millisecond, "inside the transaction")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		e.unbind(k)
		e.stats(sqlconn.Stats{Queries: 4, Bound: 2, Unbound: 1, NoSpan: 2})
	})
}

// A pooled connection binds each query's own trace; with two connections, the query's one.
func TestPoolReuse(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *env) {
		var one int
		if err := e.db.QueryRowContext(ctxOf(5), "SELECT 5").Scan(&one); err != nil {
			t.Fatal(err)
		}
		k := e.bind(5, "SQL SELECT")
		e.unbind(k)
		if err := e.db.QueryRowContext(ctxOf(6), "SELECT 6").Scan(&one); err != nil {
			t.Fatal(err)
		}
		if k6 := e.bind(6, "SQL SELECT"); k6 != k {
			t.Fatalf("the reused connection's socket %d, first %d", k6, k)
		}
		e.unbind(k)

		e.db.SetMaxOpenConns(2)
		e.db.SetMaxIdleConns(2)                              // SetMaxOpenConns(1) had lowered it: the first would be closed
		held, err := e.db.QueryContext(ctxOf(7), "SELECT 7") // keeps the first connection
		if err != nil {
			t.Fatal(err)
		}
		if k7 := e.bind(7, "SQL SELECT"); k7 != k {
			t.Fatalf("the idle connection was not reused: %d, %d", k7, k)
		}
		if err := e.db.QueryRowContext(ctxOf(8), "SELECT 8").Scan(&one); err != nil {
			t.Fatal(err)
		}
		k8 := e.bind(8, "SQL SELECT")
		if k8 == k {
			t.Fatal("the second connection's query bound the first connection")
		}
		e.unbind(k8)
		held.Close()
		e.unbind(k)
	})
}

// A prepared statement's executions bind their own spans.
func TestPrepared(t *testing.T) {
	eachDriver(t, func(t *testing.T, e *env) {
		st, err := e.db.PrepareContext(ctxOf(9), "SELECT cardinality($1::text[])")
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		k := e.bind(9, "SQL PREPARE")
		e.unbind(k)
		var n int
		// pq.Array: a driver.Valuer for both drivers; the driver's own checker sees it.
		if err := st.QueryRowContext(ctxOf(10), pq.Array([]string{"a", "b"})).Scan(&n); err != nil || n != 2 {
			t.Fatalf("cardinality %d, %v", n, err)
		}
		e.unbind(e.bind(10, "SQL SELECT"))
	})
}

// The driver's interfaces stay reachable: column types, its own argument checker (pgx takes
// a []string as text[], which database/sql's default conversion refuses), Unwrap.
func TestDriverInterfaces(t *testing.T) {
	e := setup(t, drivers[0].open)
	var n int
	if err := e.db.QueryRow("SELECT cardinality($1::text[])", []string{"a", "b", "c"}).Scan(&n); err != nil || n != 3 {
		t.Fatalf("pgx's CheckNamedValue not reached: %d, %v", n, err)
	}
	rows, err := e.db.Query("SELECT 'x'::bytea AS b")
	if err != nil {
		t.Fatal(err)
	}
	ct, err := rows.ColumnTypes()
	rows.Close()
	if err != nil || ct[0].DatabaseTypeName() != "BYTEA" {
		t.Fatalf("column type %q, %v", ct[0].DatabaseTypeName(), err)
	}
	c, err := e.db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Raw(func(dc any) error {
		if _, ok := sqlconn.Unwrap(dc.(driver.Conn)).(*stdlib.Conn); !ok {
			t.Errorf("Unwrap gave %T", sqlconn.Unwrap(dc.(driver.Conn)))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Without traceiface queries run as usual; the binds are counted as errors.
func TestNoTraceiface(t *testing.T) {
	eachDriver(t, func(t *testing.T, _ *env) {
		b := sqlconn.NewSocket(filepath.Join(t.TempDir(), "absent.sock"))
		defer b.Close()
		db := drivers[map[string]int{"pgx": 0, "pq": 1}[filepath.Base(t.Name())]].open(t, b, &dialed{})
		defer db.Close()
		for i := byte(20); i < 23; i++ {
			var v int
			if err := db.QueryRowContext(ctxOf(i), "SELECT $1::int", int(i)).Scan(&v); err != nil || v != int(i) {
				t.Fatalf("query without traceiface: %d, %v", v, err)
			}
		}
		if s := b.Stats(); s.Errors != 3 || s.Bound != 0 || s.Queries != 3 {
			t.Fatalf("stats %+v, want 3 queries, 3 errors, nothing bound", s)
		}
	})
}

func TestContextWithTraceparent(t *testing.T) {
	ctx, err := sqlconn.ContextWithTraceparent(context.Background(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	if err != nil || ctx == context.Background() {
		t.Fatalf("valid traceparent: %v", err)
	}
	if ctx, err := sqlconn.ContextWithTraceparent(context.Background(), "00-zz-b7ad6b7169203331-01"); err == nil || ctx != context.Background() {
		t.Fatal("malformed traceparent accepted")
	}
}

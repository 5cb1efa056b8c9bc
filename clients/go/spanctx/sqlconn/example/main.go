// example: a database/sql client with sqlconn, inserting a large bytea into PostgreSQL and
// reading its length back under one trace, so that the retransmits of the INSERT's segments
// carry the trace id in traceiface's lines.
//
//	go build -o sqlexample traceiface.local/spanctx/sqlconn/example  # GOPATH mode, tests/go/gopath.sh
//	./sqlexample -driver pgx -dsn 'postgres://postgres@10.0.0.2:5432/postgres?sslmode=disable' \
//	    -traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 -size 30000000
//
// It prints "local_port N" once connected, "start TS" and "end TS" around the traced queries
// (UTC, fixed width, as traceiface's ts) and the Binder's counters as JSON. Without
// -traceparent the queries run untraced.
package main

import (
	"context"
	"crypto/rand"
	"database/sql/driver"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/stdlib"
	"github.com/lib/pq"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/sqlconn"
)

const tsFormat = "2006-01-02T15:04:05.000000000Z"

func main() {
	drv := flag.String("driver", "pgx", "pgx (v4 stdlib) or pq (lib/pq)")
	dsn := flag.String("dsn", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL URL")
	socket := flag.String("socket", spanctx.DefaultSocket, "traceiface span socket")
	tp := flag.String("traceparent", "", "W3C traceparent of the queries (empty: untraced)")
	size := flag.Int("size", 30<<20, "bytes of the bytea inserted")
	cc := flag.String("cc", "", "TCP congestion control of the connection (empty: the system's)")
	timeout := flag.Duration("timeout", 2*time.Minute, "deadline of the whole run")
	flag.Parse()

	b := sqlconn.NewSocket(*socket)
	defer b.Close()
	var local net.Addr
	base := func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			if *cc == "" {
				return nil
			}
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, *cc)
			}); err != nil {
				return err
			}
			return serr
		}}
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			local = c.LocalAddr() // one connection (SetMaxOpenConns(1)), the last dial
		}
		return c, err
	}
	var c driver.Connector
	switch *drv {
	case "pgx":
		cfg, err := pgx.ParseConfig(*dsn)
		if err != nil {
			log.Fatal(err)
		}
		cfg.DialFunc = sqlconn.DialFunc(base)
		if c, err = stdlib.GetDefaultDriver().(driver.DriverContext).
			OpenConnector(stdlib.RegisterConnConfig(cfg)); err != nil {
			log.Fatal(err)
		}
	case "pq":
		pc, err := pq.NewConnector(*dsn)
		if err != nil {
			log.Fatal(err)
		}
		pc.Dialer(sqlconn.Dialer(base))
		c = pc
	default:
		log.Fatalf("unknown driver %q", *drv)
	}
	db := b.OpenDB(c)
	defer db.Close()
	db.SetMaxOpenConns(1)

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS blobs (id bigserial PRIMARY KEY, data bytea)"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("local_port", local.(*net.TCPAddr).Port)

	qctx := ctx
	if *tp != "" {
		var err error
		if qctx, err = sqlconn.ContextWithTraceparent(ctx, *tp); err != nil {
			log.Fatalf("traceparent: %v", err)
		}
	}
	blob := make([]byte, *size)
	rand.Read(blob) // incompressible
	fmt.Println("start", time.Now().UTC().Format(tsFormat))
	var id, n int64
	if err := db.QueryRowContext(qctx, "INSERT INTO blobs (data) VALUES ($1) RETURNING id", blob).Scan(&id); err != nil {
		log.Fatal(err)
	}
	if err := db.QueryRowContext(qctx, "SELECT length(data) FROM blobs WHERE id = $1", id).Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println("end", time.Now().UTC().Format(tsFormat))
	if n != int64(*size) {
		log.Fatalf("stored %d bytes, inserted %d", n, *size)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM blobs WHERE id = $1", id); err != nil {
		log.Fatal(err)
	}
	// Let the last binding's unbind go out (the send queue drains in a round trip) before
	// the counters are printed.
	time.Sleep(200 * time.Millisecond)
	st, _ := json.Marshal(b.Stats())
	fmt.Println("stats", string(st))
	os.Stdout.Sync()
}

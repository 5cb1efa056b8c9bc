// Package sqlconn binds the TCP connection a database/sql query runs on (the driver
// connection checked out of the pool) to the trace of the query's context, so that
// traceiface's retransmit lines and exemplars for the connection carry the trace id. It is
// driver-agnostic: it wraps a driver.Connector, and learns each connection's socket through
// the dialer the driver is given. For PostgreSQL with pgx v4 (stdlib):
//
//	b := sqlconn.NewSocket(spanctx.DefaultSocket) // or sqlconn.New(client)
//	defer b.Close()
//	cfg, err := pgx.ParseConfig(dsn)
//	cfg.DialFunc = sqlconn.DialFunc(cfg.DialFunc) // nil: a net.Dialer
//	c, err := stdlib.GetDefaultDriver().(driver.DriverContext).
//		OpenConnector(stdlib.RegisterConnConfig(cfg))
//	db := b.OpenDB(c)
//
// (pgx v4.17 and later: c := stdlib.GetConnector(*cfg)), and with lib/pq:
//
//	c, err := pq.NewConnector(dsn)
//	c.Dialer(sqlconn.Dialer(nil))
//	db := b.OpenDB(c)
//
// A query binds its connection when its context carries a span: ContextWithSpan (the
// client span of the query, from your tracer), ContextWithTraceparent (a W3C traceparent
// header's trace id and parent id), or Binder.SpanOf (your tracer's span of a context, e.g.
// OpenTelemetry's trace.SpanContextFromContext). The span name is "SQL " + the statement's
// first keyword ("SQL SELECT", "SQL INSERT"; "SQL BEGIN" for a transaction, "SQL PREPARE",
// "SQL PING"), never the query text, which may hold data. A query without a span binds
// nothing, and undoes at once a binding an earlier query left on the connection.
//
// The binding covers QueryContext until its Rows are closed (database/sql closes them when
// Next reaches the end), ExecContext, PrepareContext and the prepared statement's executions,
// PingContext, and a transaction from BeginTx to Commit or Rollback: the statements inside
// keep the connection bound to the transaction's span (one with its own span binds that one,
// the last to start wins). When the work on the connection ends the binding is undone once
// the kernel's send queue of the connection has drained (SIOCOUTQ: everything sent was
// acknowledged), so retransmits of a large INSERT's tail still count for its trace while a
// connection idle in the pool belongs to none; the next query binds its own trace.
//
// The dialer records the socket only while the wrapped connector's Connect runs (its
// context carries the handoff), so pgx's and lib/pq's cancel-request connections, which use
// the same dialer, are left alone. Connections over a unix socket, or made by a driver not
// given the dialer, are not bound (Stats.NoConn). The driver's connection is wrapped: code
// reaching it through sql.Conn.Raw gets the wrapper and calls Unwrap (pgx's
// stdlib.AcquireConn does not work on such a *sql.DB).
//
// Frames are sent without ever waiting (spanctx.Client.TryBind): when traceiface is absent,
// restarting or not keeping up, queries run as usual and the miss is counted (Stats).
package sqlconn

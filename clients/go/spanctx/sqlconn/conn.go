package sqlconn

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"reflect"
	"strings"
	"sync"

	"traceiface.local/spanctx/connbind"
)

// conn is a driver connection with its socket's binding (nil: socket unknown). It implements
// every optional interface database/sql looks for on a connection and passes on to the
// driver's, doing what database/sql does without it when the driver lacks one.
type conn struct {
	inner driver.Conn
	b     *Binder
	bind  *connbind.Conn
}

// begin starts a unit of work of ctx's span named "SQL " + what on the connection; the
// returned func ends it (once).
func (c *conn) begin(ctx context.Context, what string) func() {
	c.b.queries.Add(1)
	if c.bind == nil {
		c.b.noConn.Add(1)
		return func() {}
	}
	if sp, ok := c.b.spanOf(ctx); ok {
		c.bind.Begin(sp, strings.TrimSpace("SQL "+what))
	} else {
		c.b.noSpan.Add(1)
		c.bind.BeginUntraced()
	}
	var once sync.Once
	return func() { once.Do(c.bind.End) }
}

func (c *conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	defer c.begin(ctx, "PREPARE")()
	var s driver.Stmt
	var err error
	if pc, ok := c.inner.(driver.ConnPrepareContext); ok {
		s, err = pc.PrepareContext(ctx, query)
	} else if err = ctx.Err(); err == nil {
		s, err = c.inner.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: s, c: c, what: keyword(query)}, nil
}

func (c *conn) Close() error {
	if c.bind != nil {
		c.bind.Closed()
	}
	return c.inner.Close()
}

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	end := c.begin(ctx, "BEGIN")
	var t driver.Tx
	var err error
	if bt, ok := c.inner.(driver.ConnBeginTx); ok {
		t, err = bt.BeginTx(ctx, opts)
	} else if opts.Isolation != 0 || opts.ReadOnly {
		err = errors.New("sqlconn: the driver supports no isolation level nor read-only transactions")
	} else if err = ctx.Err(); err == nil {
		t, err = c.inner.Begin() // the driver has nothing else
	}
	if err != nil {
		end()
		return nil, err
	}
	return &tx{inner: t, end: end}, nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := c.inner.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares the statement: stmt binds
	}
	end := c.begin(ctx, keyword(query))
	r, err := qc.QueryContext(ctx, query, args)
	if err != nil {
		end()
		return nil, err
	}
	return &rows{Rows: r, end: end}, nil
}

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := c.inner.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	defer c.begin(ctx, keyword(query))()
	return ec.ExecContext(ctx, query, args)
}

func (c *conn) Ping(ctx context.Context) error {
	p, ok := c.inner.(driver.Pinger)
	if !ok {
		return nil
	}
	defer c.begin(ctx, "PING")()
	return p.Ping(ctx)
}

func (c *conn) ResetSession(ctx context.Context) error {
	if r, ok := c.inner.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (c *conn) IsValid() bool {
	if v, ok := c.inner.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (c *conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.inner.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip // database/sql's default conversion
}

// stmt is a prepared statement: its executions are units of work of their contexts.
type stmt struct {
	driver.Stmt
	c    *conn
	what string
}

func (s *stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	defer s.c.begin(ctx, s.what)()
	if ec, ok := s.Stmt.(driver.StmtExecContext); ok {
		return ec.ExecContext(ctx, args)
	}
	v, err := values(ctx, args)
	if err != nil {
		return nil, err
	}
	return s.Stmt.Exec(v) // the driver has nothing else
}

func (s *stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	end := s.c.begin(ctx, s.what)
	var r driver.Rows
	var err error
	if qc, ok := s.Stmt.(driver.StmtQueryContext); ok {
		r, err = qc.QueryContext(ctx, args)
	} else {
		var v []driver.Value
		if v, err = values(ctx, args); err == nil {
			r, err = s.Stmt.Query(v) // the driver has nothing else
		}
	}
	if err != nil {
		end()
		return nil, err
	}
	return &rows{Rows: r, end: end}, nil
}

// CheckNamedValue: database/sql asks the statement first and, when it has no checker, the
// connection; so does this.
func (s *stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return s.c.CheckNamedValue(nv)
}

// values are args for a driver without context methods, as database/sql passes them.
func values(ctx context.Context, args []driver.NamedValue) ([]driver.Value, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("sqlconn: the driver does not support named parameters")
		}
		v[i] = a.Value
	}
	return v, nil
}

// tx ends the transaction's unit of work at Commit or Rollback.
type tx struct {
	inner driver.Tx
	end   func()
}

func (t *tx) Commit() error {
	defer t.end()
	return t.inner.Commit()
}

func (t *tx) Rollback() error {
	defer t.end()
	return t.inner.Rollback()
}

// rows ends the query's unit of work when closed; the column and result-set methods are the
// driver's, or database/sql's defaults without them.
type rows struct {
	driver.Rows
	end func()
}

func (r *rows) Close() error {
	defer r.end()
	return r.Rows.Close()
}

func (r *rows) HasNextResultSet() bool {
	n, ok := r.Rows.(driver.RowsNextResultSet)
	return ok && n.HasNextResultSet()
}

func (r *rows) NextResultSet() error {
	if n, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return n.NextResultSet()
	}
	return io.EOF
}

func (r *rows) ColumnTypeScanType(i int) reflect.Type {
	if c, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return c.ColumnTypeScanType(i)
	}
	return reflect.TypeOf(new(any)).Elem()
}

func (r *rows) ColumnTypeDatabaseTypeName(i int) string {
	if c, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return c.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r *rows) ColumnTypeLength(i int) (int64, bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return c.ColumnTypeLength(i)
	}
	return 0, false
}

func (r *rows) ColumnTypeNullable(i int) (nullable, ok bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return c.ColumnTypeNullable(i)
	}
	return false, false
}

func (r *rows) ColumnTypePrecisionScale(i int) (precision, scale int64, ok bool) {
	if c, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return c.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

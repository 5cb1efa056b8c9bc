// Package httpserver binds the connection a net/http server serves a request on to that
// request's trace, so that traceiface's retransmit lines and exemplars for the connection
// carry the trace id: no code per handler.
//
//	srv := &http.Server{Addr: ":8080", Handler: mux}
//	m := httpserver.NewSocket(spanctx.DefaultSocket) // or httpserver.New(client)
//	defer m.Close()
//	m.Install(srv) // after srv.Handler is set; chains srv.ConnContext and srv.ConnState
//	log.Fatal(srv.ListenAndServe())
//
// Per request, the middleware reads the W3C traceparent header and binds the request's
// connection to its trace id before the handler runs. The span id is the server's own span
// when an outer tracing middleware put one into the request's context (ContextWithSpan),
// else the traceparent's parent id: the caller's span, of which the server's span is a child.
// The span name is "HTTP " + method + " " + path (Middleware.Name to change it). A request
// without a (valid) traceparent binds nothing.
//
// The binding is undone when the connection goes idle after the response, once the kernel's
// send queue of the connection has drained (SIOCOUTQ: everything sent was acknowledged), so
// that retransmits of the response's tail still count for its trace while a keep-alive
// connection waiting for its next request belongs to none; the next request binds its own
// trace (one without a traceparent unbinds at once). HTTP/2 multiplexes requests on one
// connection, which traceiface binds to one trace at a time: the last request to start wins,
// the connection is unbound when no request is left on it.
//
// Frames are sent without ever waiting (spanctx.Client.TryBind): when traceiface is absent,
// restarting or not keeping up, requests are served as usual and the miss is counted (Stats).
package httpserver

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/connbind"
)

// RedialInterval is how often a Middleware made by NewSocket tries to reach the span socket
// again while it is unavailable.
const RedialInterval = connbind.RedialInterval

// Stats are the middleware's counters since it was made.
type Stats struct {
	Requests      uint64 // requests seen
	Bound         uint64 // bind frames sent
	Unbound       uint64 // unbind frames sent
	NoTraceparent uint64 // requests without traceparent (nor a server span): nothing bound
	Malformed     uint64 // requests whose traceparent is malformed or repeated: nothing bound
	NoConn        uint64 // requests whose connection is unknown: ConnContext not installed
	Dropped       uint64 // frames dropped: the span socket's buffer was full
	Errors        uint64 // frames not sent: no span socket (traceiface absent, restarted), ...
}

// Middleware binds requests' connections to their traces; safe for concurrent use, one per
// span-socket client (several servers may share one).
type Middleware struct {
	// Name gives a request's span name, cut to spanctx.MaxNameLen bytes, other bytes than
	// printable ASCII replaced by '?'. nil: "HTTP " + method + " " + URL path. Set it before
	// serving.
	Name func(r *http.Request) string

	sender *connbind.Sender
	conns  sync.Map // net.Conn → *connbind.Conn: the connections Install's hooks follow

	requests, noTraceparent, malformed, noConn atomic.Uint64
}

// New makes a Middleware sending over c, which the caller owns. c may be nil: nothing is
// bound, every bind counts as an error.
func New(c *spanctx.Client) *Middleware { return &Middleware{sender: connbind.New(c)} }

// NewSocket makes a Middleware with its own connection to the span socket at path
// (spanctx.DefaultSocket when empty), dialed now and, while unavailable (traceiface not yet
// started, restarted), again every RedialInterval in the background. Close ends it.
func NewSocket(path string) *Middleware { return &Middleware{sender: connbind.NewSocket(path)} }

// Close stops redialing and closes the span-socket connection NewSocket made (a client passed
// to New stays open). Bindings stay until their connections close or traceiface's TTL.
func (m *Middleware) Close() error { return m.sender.Close() }

// Stats returns the counters.
func (m *Middleware) Stats() Stats {
	f := m.sender.Stats()
	return Stats{
		Requests:      m.requests.Load(),
		Bound:         f.Bound,
		Unbound:       f.Unbound,
		NoTraceparent: m.noTraceparent.Load(),
		Malformed:     m.malformed.Load(),
		NoConn:        m.noConn.Load(),
		Dropped:       f.Dropped,
		Errors:        f.Errors,
	}
}

// Handler binds each request's connection, then calls next. The server must put the
// connection into the requests' context: Install does, or ConnContext as the server's
// ConnContext (then the unbind follows the end of the handler instead of the connection
// going idle, which Install sees).
func Handler(next http.Handler, c *spanctx.Client) http.Handler { return New(c).Handler(next) }

// Install makes a Middleware sending over c (see New) and installs it into srv.
func Install(srv *http.Server, c *spanctx.Client) *Middleware {
	m := New(c)
	m.Install(srv)
	return m
}

// Handler is the middleware around next.
func (m *Middleware) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(next, w, r) })
}

// Install wraps srv.Handler (http.DefaultServeMux when nil; set it first) and hooks
// srv.ConnContext (to reach each request's connection) and srv.ConnState (to unbind when a
// connection goes idle), calling any hooks already set. Call it before serving.
func (m *Middleware) Install(srv *http.Server) {
	h := srv.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	srv.Handler = m.Handler(h)
	prevCtx, prevState := srv.ConnContext, srv.ConnState
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		cs := m.sender.IdleConn(c)
		m.conns.Store(c, cs)
		return context.WithValue(ctx, connKey{}, cs)
	}
	srv.ConnState = func(c net.Conn, st http.ConnState) {
		m.connStateHook(c, st)
		if prevState != nil {
			prevState(c, st)
		}
	}
}

type connKey struct{}

// ConnContext puts c into the context of the requests served on it, for Handler: use it as
// http.Server.ConnContext when not using Install (to chain your own, call it from yours).
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &plainConn{conn: c})
}

// plainConn is a connection ConnContext put into the context; its binding is made by the
// first request's middleware.
type plainConn struct {
	conn net.Conn
	once sync.Once
	b    *connbind.Conn
}

type spanKey struct{}

// ContextWithSpan returns ctx carrying the server's own span of the request: a tracing
// middleware outside this one passes it with r.WithContext, and the connection is bound to it
// instead of to the traceparent's parent span (also when the request had no traceparent and
// the server started the trace). Zero ids are ignored.
func ContextWithSpan(ctx context.Context, t spanctx.TraceID, s spanctx.SpanID, flags byte) context.Context {
	return context.WithValue(ctx, spanKey{}, connbind.Span{Trace: t, Span: s, Flags: flags})
}

func (m *Middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	var cs *connbind.Conn
	switch v := r.Context().Value(connKey{}).(type) {
	case *connbind.Conn: // Install
		cs = v
	case *plainConn: // ConnContext: no idle hook, the end of the handler unbinds
		v.once.Do(func() { v.b = m.sender.Conn(v.conn) })
		cs = v.b
	default:
		m.noConn.Add(1)
		next.ServeHTTP(w, r)
		return
	}
	if span, ok := m.traceOf(r); ok {
		cs.Begin(span, m.name(r))
	} else {
		cs.BeginUntraced()
	}
	defer cs.End()
	next.ServeHTTP(w, r)
}

func (m *Middleware) traceOf(r *http.Request) (connbind.Span, bool) {
	if s, ok := r.Context().Value(spanKey{}).(connbind.Span); ok && s.Valid() {
		return s, true
	}
	vals := r.Header.Values("Traceparent")
	if len(vals) == 0 {
		m.noTraceparent.Add(1)
		return connbind.Span{}, false
	}
	if len(vals) > 1 {
		m.malformed.Add(1)
		return connbind.Span{}, false
	}
	t, p, flags, err := spanctx.ParseTraceparent(vals[0])
	if err != nil {
		m.malformed.Add(1)
		return connbind.Span{}, false
	}
	return connbind.Span{Trace: t, Span: p, Flags: flags}, true
}

func (m *Middleware) name(r *http.Request) string {
	if m.Name != nil {
		return m.Name(r)
	}
	return "HTTP " + r.Method + " " + r.URL.Path
}

func (m *Middleware) connStateHook(c net.Conn, st http.ConnState) {
	v, ok := m.conns.Load(c)
	if !ok {
		return
	}
	cs := v.(*connbind.Conn)
	switch st {
	case http.StateActive:
		cs.Active()
	case http.StateIdle:
		cs.Idle()
	case http.StateHijacked:
		// The handler owns the connection now: the end of the request unbinds it.
		cs.Detach()
		m.conns.Delete(c)
	case http.StateClosed:
		cs.Closed()
		m.conns.Delete(c)
	}
}

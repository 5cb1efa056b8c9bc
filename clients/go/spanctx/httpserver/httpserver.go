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
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"traceiface.local/spanctx"
)

// RedialInterval is how often a Middleware made by NewSocket tries to reach the span socket
// again while it is unavailable.
const RedialInterval = time.Second

// How long a connection idle after its response may keep its binding while the kernel still
// holds unacknowledged bytes of that response: checked from drainFirst on, interval doubling
// up to drainMaxInterval; after drainGiveUp it is unbound anyway.
const (
	drainFirst       = 10 * time.Millisecond
	drainMaxInterval = time.Second
	drainGiveUp      = time.Minute
)

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

	socket  string // NewSocket: dialed, redialed, closed by the middleware
	client  atomic.Pointer[spanctx.Client]
	dialing atomic.Bool
	done    chan struct{}
	once    sync.Once
	conns   sync.Map // net.Conn → *connState: the connections Install's hooks follow

	requests, bound, unbound, noTraceparent, malformed, noConn, dropped, errs atomic.Uint64
}

// New makes a Middleware sending over c, which the caller owns. c may be nil: nothing is
// bound, every bind counts as an error.
func New(c *spanctx.Client) *Middleware {
	m := &Middleware{done: make(chan struct{})}
	if c != nil {
		m.client.Store(c)
	}
	return m
}

// NewSocket makes a Middleware with its own connection to the span socket at path
// (spanctx.DefaultSocket when empty), dialed now and, while unavailable (traceiface not yet
// started, restarted), again every RedialInterval in the background. Close ends it.
func NewSocket(path string) *Middleware {
	if path == "" {
		path = spanctx.DefaultSocket
	}
	m := New(nil)
	m.socket = path
	if c, err := spanctx.Dial(path); err == nil {
		m.client.Store(c)
	} else {
		m.redial(nil)
	}
	return m
}

// Close stops redialing and closes the span-socket connection NewSocket made (a client passed
// to New stays open). Bindings stay until their connections close or traceiface's TTL.
func (m *Middleware) Close() error {
	m.once.Do(func() { close(m.done) })
	if m.socket == "" {
		return nil
	}
	if c := m.client.Swap(nil); c != nil {
		return c.Close()
	}
	return nil
}

// Stats returns the counters.
func (m *Middleware) Stats() Stats {
	return Stats{
		Requests:      m.requests.Load(),
		Bound:         m.bound.Load(),
		Unbound:       m.unbound.Load(),
		NoTraceparent: m.noTraceparent.Load(),
		Malformed:     m.malformed.Load(),
		NoConn:        m.noConn.Load(),
		Dropped:       m.dropped.Load(),
		Errors:        m.errs.Load(),
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
		cs := &connState{conn: c, watched: true}
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
	return context.WithValue(ctx, connKey{}, &connState{conn: c})
}

type spanKey struct{}

type serverSpan struct {
	t     spanctx.TraceID
	s     spanctx.SpanID
	flags byte
}

// ContextWithSpan returns ctx carrying the server's own span of the request: a tracing
// middleware outside this one passes it with r.WithContext, and the connection is bound to it
// instead of to the traceparent's parent span (also when the request had no traceparent and
// the server started the trace). Zero ids are ignored.
func ContextWithSpan(ctx context.Context, t spanctx.TraceID, s spanctx.SpanID, flags byte) context.Context {
	return context.WithValue(ctx, spanKey{}, serverSpan{t, s, flags})
}

// connState is one connection's binding, guarded by mu: frames for a connection are sent under
// it, so a bind and an unbind never overtake each other.
type connState struct {
	conn    net.Conn
	watched bool // Install's ConnState hook follows it: unbind once idle
	mu      sync.Mutex
	active  int  // requests being served on it (HTTP/2: several)
	bound   bool // a bind was sent since the last unbind
	idle    bool // ConnState said idle (and not active since)
	closed  bool
	gen     uint64 // bumped by each request and at close: pending unbinds of older ones give up
}

func (m *Middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	m.requests.Add(1)
	cs, _ := r.Context().Value(connKey{}).(*connState)
	if cs == nil {
		m.noConn.Add(1)
		next.ServeHTTP(w, r)
		return
	}
	span, ok := m.traceOf(r)
	cs.mu.Lock()
	cs.active++
	cs.gen++
	if ok {
		if m.send(cs, func(c *spanctx.Client) error {
			return c.TryBind(cs.conn, span.t, span.s, span.flags, m.name(r))
		}, &m.bound) {
			cs.bound = true
		}
	} else if cs.bound && cs.active == 1 {
		// A keep-alive connection still bound to the previous request's trace.
		m.unbindLocked(cs)
	}
	cs.mu.Unlock()
	defer func() {
		cs.mu.Lock()
		cs.active--
		if cs.active == 0 && cs.bound && (!cs.watched || cs.idle) {
			m.unbindWhenDrained(cs)
		}
		cs.mu.Unlock()
	}()
	next.ServeHTTP(w, r)
}

func (m *Middleware) traceOf(r *http.Request) (serverSpan, bool) {
	if s, ok := r.Context().Value(spanKey{}).(serverSpan); ok &&
		s.t != (spanctx.TraceID{}) && s.s != (spanctx.SpanID{}) {
		return s, true
	}
	vals := r.Header.Values("Traceparent")
	if len(vals) == 0 {
		m.noTraceparent.Add(1)
		return serverSpan{}, false
	}
	if len(vals) > 1 {
		m.malformed.Add(1)
		return serverSpan{}, false
	}
	t, p, flags, err := spanctx.ParseTraceparent(vals[0])
	if err != nil {
		m.malformed.Add(1)
		return serverSpan{}, false
	}
	return serverSpan{t, p, flags}, true
}

func (m *Middleware) name(r *http.Request) string {
	var n string
	if m.Name != nil {
		n = m.Name(r)
	} else {
		n = "HTTP " + r.Method + " " + r.URL.Path
	}
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
func (m *Middleware) send(cs *connState, frame func(*spanctx.Client) error,
	ok *atomic.Uint64) bool {
	c := m.client.Load()
	if c == nil {
		m.errs.Add(1)
		return false
	}
	err := frame(c)
	switch {
	case err == nil:
		ok.Add(1)
		return true
	case errors.Is(err, spanctx.ErrConnClosed):
	case errors.Is(err, spanctx.ErrWouldBlock):
		m.dropped.Add(1)
	default:
		m.errs.Add(1)
		if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.EPIPE) ||
			errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ENOTCONN) ||
			errors.Is(err, syscall.ECONNREFUSED) {
			m.redial(c)
		}
	}
	return false
}

// unbindLocked unbinds cs now (cs.mu held). A frame that could not be sent is not retried:
// the binding then ends with the connection or by traceiface's TTL.
func (m *Middleware) unbindLocked(cs *connState) {
	m.send(cs, func(c *spanctx.Client) error { return c.TryUnbind(cs.conn) }, &m.unbound)
	cs.bound = false
}

// unbindWhenDrained unbinds cs (cs.mu held) once its send queue is empty, unless a request
// starts on it or it closes first.
func (m *Middleware) unbindWhenDrained(cs *connState) {
	gen, start := cs.gen, time.Now()
	var check func(d time.Duration)
	check = func(d time.Duration) {
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.gen != gen || cs.closed || !cs.bound || cs.active > 0 {
			return
		}
		n, err := outq(cs.conn)
		if errors.Is(err, net.ErrClosed) {
			cs.bound = false
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
		m.unbindLocked(cs)
	}
	time.AfterFunc(drainFirst, func() { check(2 * drainFirst) })
}

func (m *Middleware) connStateHook(c net.Conn, st http.ConnState) {
	v, ok := m.conns.Load(c)
	if !ok {
		return
	}
	cs := v.(*connState)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch st {
	case http.StateActive:
		cs.idle = false
	case http.StateIdle:
		cs.idle = true
		if cs.active == 0 && cs.bound {
			m.unbindWhenDrained(cs)
		}
	case http.StateHijacked:
		// The handler owns the connection now: the end of the request unbinds it.
		cs.watched, cs.idle = false, false
		m.conns.Delete(c)
	case http.StateClosed:
		// The kernel deletes the binding with the socket.
		cs.closed, cs.bound = true, false
		cs.gen++
		m.conns.Delete(c)
	}
}

// redial dials the span socket again in the background, every RedialInterval until it
// succeeds, when the middleware owns its client and failed is still the current one.
func (m *Middleware) redial(failed *spanctx.Client) {
	if m.socket == "" || m.client.Load() != failed || !m.dialing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer m.dialing.Store(false)
		t := time.NewTicker(RedialInterval)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
			}
			c, err := spanctx.Dial(m.socket)
			if err != nil {
				continue
			}
			if m.isClosed() || !m.client.CompareAndSwap(failed, c) {
				c.Close()
				return
			}
			if failed != nil {
				failed.Close()
			}
			if m.isClosed() && m.client.CompareAndSwap(c, nil) { // Close ran meanwhile
				c.Close()
			}
			return
		}
	}()
}

func (m *Middleware) isClosed() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

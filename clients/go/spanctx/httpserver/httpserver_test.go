package httpserver_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/httpserver"
	"traceiface.local/spanctx/internal/spantest"
)

func ids(tp string) (spanctx.TraceID, spanctx.SpanID) {
	t, s, _, err := spanctx.ParseTraceparent(tp)
	if err != nil {
		panic(err)
	}
	return t, s
}

func tp(i int) string {
	return fmt.Sprintf("00-4bf92f3577b34da6a3ce929d0e0e%04x-%016x-01", i, uint64(0xf067aa0ba902b700)+uint64(i))
}

var cookieOf = spantest.Cookie

// serverConns records the cookie of each server-side connection by its peer address, through
// a ConnContext set before Install (which must chain it).
type serverConns struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (s *serverConns) hook(setup func(net.Conn)) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		if setup != nil {
			setup(c)
		}
		s.mu.Lock()
		s.m[c.RemoteAddr().String()] = cookieOf(c)
		s.mu.Unlock()
		return ctx
	}
}

func (s *serverConns) cookie(remote string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[remote]
}

type env struct {
	t     *testing.T
	sock  string
	span  *spantest.Server
	c     *spanctx.Client
	ts    *httptest.Server
	m     *httpserver.Middleware
	conns *serverConns
}

// newEnv: a fake span socket, a client of it, and an httptest server with the middleware
// installed (not started).
func newEnv(t *testing.T, h http.Handler) *env {
	e := &env{t: t, sock: filepath.Join(t.TempDir(), "span.sock")}
	e.span = spantest.Start(t, e.sock)
	c, err := spanctx.Dial(e.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e.c = c
	e.ts = httptest.NewUnstartedServer(h)
	t.Cleanup(e.ts.Close)
	e.conns = &serverConns{m: map[string]uint64{}}
	e.ts.Config.ConnContext = e.conns.hook(nil)
	return e
}

type result struct {
	local  string // the client's address
	reused bool
	proto  int
	body   string
	err    error
}

// get requests url with the traceparent values given.
func get(client *http.Client, url string, traceparents ...string) result {
	var res result
	// Bounded: a request that never gets its answer fails its test, naming it, instead of
	// stalling the package until go test's (or ctest's) timeout.
	base, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx := httptrace.WithClientTrace(base, &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) {
			res.local, res.reused = i.Conn.LocalAddr().String(), i.Reused
		},
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	for _, v := range traceparents {
		req.Header.Add("traceparent", v)
	}
	resp, err := client.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.body, res.err, res.proto = string(b), err, resp.ProtoMajor
	return res
}

func (e *env) checkBind(fr spantest.Frame, tp string, name string, client result) {
	e.t.Helper()
	t, s := ids(tp)
	if fr.Op != 1 || fr.Trace != t || fr.Span != s || fr.Flags != 1 || fr.Name != name {
		e.t.Fatalf("got %v, want bind of %s named %q", fr, tp, name)
	}
	if fr.Local != e.ts.Listener.Addr().String() || fr.Remote != client.local {
		e.t.Fatalf("passed socket %s<-%s, want the server's connection %s<-%s", fr.Local,
			fr.Remote, e.ts.Listener.Addr(), client.local)
	}
	if want := e.conns.cookie(fr.Remote); fr.Cookie == 0 || fr.Cookie != want {
		e.t.Fatalf("passed socket's cookie %d, the server's connection's %d", fr.Cookie, want)
	}
}

func (e *env) checkStats(want httpserver.Stats) {
	e.t.Helper()
	// A frame can reach the fake span socket before its counter is bumped.
	deadline := time.Now().Add(2 * time.Second)
	for got := e.m.Stats(); got != want; got = e.m.Stats() {
		if time.Now().After(deadline) {
			e.t.Fatalf("stats\n got %+v\nwant %+v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The request's own connection is bound while the handler runs, unbound after the response;
// the next request on the kept-alive connection binds its own trace; one without traceparent
// binds nothing.
func TestBindKeepAliveUnbind(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))
	e.m = httpserver.Install(e.ts.Config, e.c)
	e.ts.Start()
	client := e.ts.Client()

	done := make(chan result, 1)
	go func() { done <- get(client, e.ts.URL+"/block", tp(1)) }()
	<-entered
	fr := e.span.Next(5 * time.Second)
	e.span.None(200*time.Millisecond, "the handler is still running")
	close(release)
	r1 := <-done
	if r1.err != nil || r1.body != "ok" {
		t.Fatal(r1.err, r1.body)
	}
	e.checkBind(fr, tp(1), "HTTP GET /block", r1)
	cookie := fr.Cookie
	if fr = e.span.Next(5 * time.Second); fr.Op != 2 || fr.Cookie != cookie {
		t.Fatalf("got %v, want the unbind of cookie %d", fr, cookie)
	}

	r2 := get(client, e.ts.URL+"/second", tp(2))
	if r2.err != nil || !r2.reused {
		t.Fatalf("second request: %v, reused %v", r2.err, r2.reused)
	}
	e.checkBind(e.span.Next(5*time.Second), tp(2), "HTTP GET /second", r2)
	if fr = e.span.Next(5 * time.Second); fr.Op != 2 || fr.Cookie != cookie {
		t.Fatalf("got %v, want the unbind of cookie %d", fr, cookie)
	}

	r3 := get(client, e.ts.URL+"/third")
	if r3.err != nil || !r3.reused {
		t.Fatalf("third request: %v, reused %v", r3.err, r3.reused)
	}
	e.span.None(300*time.Millisecond, "a request without traceparent")
	e.checkStats(httpserver.Stats{Requests: 3, Bound: 2, Unbound: 2, NoTraceparent: 1})

	// Back to back: the second binds its trace over the first's (whose pending unbind may or
	// may not have gone out meanwhile), and the connection ends unbound.
	get(client, e.ts.URL+"/a", tp(3))
	r5 := get(client, e.ts.URL+"/b", tp(4))
	e.checkBind(e.span.Next(5*time.Second), tp(3), "HTTP GET /a", r5)
	fr = e.span.Next(5 * time.Second)
	if fr.Op == 2 {
		fr = e.span.Next(5 * time.Second)
	}
	e.checkBind(fr, tp(4), "HTTP GET /b", r5)
	if fr = e.span.Next(5 * time.Second); fr.Op != 2 || fr.Cookie != cookie {
		t.Fatalf("got %v, want the unbind of cookie %d", fr, cookie)
	}
	e.span.None(300*time.Millisecond, "after the unbind")
}

// A connection idle after its response stays bound while the kernel holds unacknowledged
// bytes of it (retransmits of the tail are the request's), and is unbound once they drained.
func TestUnbindWaitsForTheResponseToDrain(t *testing.T) {
	const size = 100 << 10
	handled := make(chan struct{}, 1)
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(make([]byte, size))
		handled <- struct{}{}
	}))
	// Room for the whole response in the server's send buffer, whatever the client does.
	e.ts.Config.ConnContext = e.conns.hook(func(c net.Conn) { c.(*net.TCPConn).SetWriteBuffer(1 << 20) })
	e.m = httpserver.Install(e.ts.Config, e.c)
	e.ts.Start()

	// A client with a tiny receive window that does not read yet.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	conn, err := d.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\ntraceparent: %s\r\n\r\n", tp(7))
	e.checkBind(e.span.Next(5*time.Second), tp(7), "HTTP GET /big", result{local: conn.LocalAddr().String()})
	select {
	case <-handled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler could not write its response")
	}
	e.span.None(700*time.Millisecond, "response bytes not yet acknowledged")

	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Fatal(n, err)
	}
	if fr := e.span.Next(5 * time.Second); fr.Op != 2 {
		t.Fatalf("got %v, want the unbind once drained", fr)
	}
	e.checkStats(httpserver.Stats{Requests: 1, Bound: 1, Unbound: 1})
}

func TestMalformedTraceparentBindsNothing(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	e.m = httpserver.Install(e.ts.Config, e.c)
	e.ts.Start()
	for _, v := range [][]string{
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"},
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"garbage"},
		{tp(1), tp(2)}, // repeated
	} {
		if r := get(e.ts.Client(), e.ts.URL, v...); r.err != nil {
			t.Fatal(r.err)
		}
	}
	e.span.None(300*time.Millisecond, "malformed traceparents")
	e.checkStats(httpserver.Stats{Requests: 6, Malformed: 6})
}

// Without traceiface requests are served as usual, promptly; a middleware that owns its span
// socket finds it once it appears, and again after it went away.
func TestTraceifaceAbsent(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	// No client at all.
	ts := httptest.NewUnstartedServer(h)
	m := httpserver.Install(ts.Config, nil)
	ts.Start()
	defer ts.Close()
	if r := get(ts.Client(), ts.URL, tp(1)); r.err != nil || r.body != "ok" {
		t.Fatal(r.err, r.body)
	}
	if s := m.Stats(); s.Errors != 1 || s.Bound != 0 {
		t.Fatalf("%+v", s)
	}

	// A socket path nobody listens on yet.
	sock := filepath.Join(t.TempDir(), "span.sock")
	m2 := httpserver.NewSocket(sock)
	defer m2.Close()
	ts2 := httptest.NewUnstartedServer(h)
	m2.Install(ts2.Config)
	ts2.Start()
	defer ts2.Close()
	client := ts2.Client()
	t0 := time.Now()
	for i := 0; i < 20; i++ {
		if r := get(client, ts2.URL, tp(i)); r.err != nil || r.body != "ok" {
			t.Fatal(r.err, r.body)
		}
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("20 requests took %v without traceiface", d)
	}
	if s := m2.Stats(); s.Errors != 20 || s.Bound != 0 {
		t.Fatalf("%+v", s)
	}

	waitBound := func(span *spantest.Server, want uint64) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); m2.Stats().Bound < want; {
			if time.Now().After(deadline) {
				t.Fatalf("no bind within 5 s of the span socket appearing: %+v", m2.Stats())
			}
			if r := get(client, ts2.URL, tp(9)); r.err != nil {
				t.Fatal(r.err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if fr := span.Next(5 * time.Second); fr.Op != 1 || fr.Name != "HTTP GET /" {
			t.Fatalf("got %v, want a bind", fr)
		}
	}
	span := spantest.Start(t, sock)
	waitBound(span, 1)

	// traceiface goes away: still served, counted; then it is back.
	span.Stop()
	before := m2.Stats()
	if r := get(client, ts2.URL, tp(10)); r.err != nil || r.body != "ok" {
		t.Fatal(r.err, r.body)
	}
	if s := m2.Stats(); s.Errors <= before.Errors {
		t.Fatalf("a bind to a vanished span socket was not counted: %+v", s)
	}
	span2 := spantest.Start(t, sock)
	waitBound(span2, m2.Stats().Bound+1)
}

// An outer tracing middleware's server span wins over the traceparent's parent span.
func TestServerSpanFromContext(t *testing.T) {
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	e.m = httpserver.Install(e.ts.Config, e.c)
	e.m.Name = func(r *http.Request) string { return "srv " + r.URL.Path }
	inner := e.ts.Config.Handler
	srvTrace, srvSpan := ids(tp(5))
	e.ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(w, r.WithContext(httpserver.ContextWithSpan(r.Context(), srvTrace, srvSpan, 1)))
	})
	e.ts.Start()
	r := get(e.ts.Client(), e.ts.URL+"/ünïcode/"+strings.Repeat("x", 40), tp(1))
	if r.err != nil {
		t.Fatal(r.err)
	}
	// The name is cut to 32 bytes, bytes beyond printable ASCII replaced.
	e.checkBind(e.span.Next(5*time.Second), tp(5), "srv /??n??code/"+strings.Repeat("x", 17), r)

	e.m.Name = func(r *http.Request) string { return "srv\tü" }
	r = get(e.ts.Client(), e.ts.URL)
	fr := e.span.Next(5 * time.Second)
	if fr.Op == 2 { // the first request's unbind, unless the second came first
		fr = e.span.Next(5 * time.Second)
	}
	e.checkBind(fr, tp(5), "srv???", r)
}

// Handler with ConnContext instead of Install: unbound when the handler is done.
func TestHandlerWithConnContext(t *testing.T) {
	e := newEnv(t, nil)
	e.ts.Config.Handler = httpserver.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), e.c)
	prev := e.ts.Config.ConnContext
	e.ts.Config.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		return httpserver.ConnContext(prev(ctx, c), c)
	}
	e.ts.Start()
	r := get(e.ts.Client(), e.ts.URL+"/x", tp(3))
	if r.err != nil || r.body != "ok" {
		t.Fatal(r.err, r.body)
	}
	e.checkBind(e.span.Next(5*time.Second), tp(3), "HTTP GET /x", r)
	if fr := e.span.Next(5 * time.Second); fr.Op != 2 {
		t.Fatalf("got %v, want the unbind", fr)
	}

	// Without ConnContext the connection is unknown: served, counted, nothing bound.
	m := httpserver.New(e.c)
	ts := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})))
	defer ts.Close()
	if r := get(ts.Client(), ts.URL, tp(1)); r.err != nil || r.body != "ok" {
		t.Fatal(r.err, r.body)
	}
	if s := m.Stats(); s.NoConn != 1 || s.Bound != 0 {
		t.Fatalf("%+v", s)
	}
}

// HTTP/2 over TLS: concurrent requests share one connection; each binds it (the last wins),
// and it is unbound once the last of them is done.
func TestHTTP2LastBindWins(t *testing.T) {
	const n = 5
	arrived, release := make(chan struct{}, n), make(chan struct{})
	e := newEnv(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/h2" {
			arrived <- struct{}{}
			<-release
		}
		io.WriteString(w, "ok")
	}))
	e.ts.EnableHTTP2 = true
	e.m = httpserver.Install(e.ts.Config, e.c)
	e.ts.StartTLS()
	client := e.ts.Client()
	warm := get(client, e.ts.URL+"/warm")
	if warm.err != nil || warm.proto != 2 {
		t.Fatalf("warm-up: %v, HTTP/%d", warm.err, warm.proto)
	}
	results := make(chan result, n)
	for i := 0; i < n; i++ {
		go func(i int) { results <- get(client, e.ts.URL+"/h2", tp(20+i)) }(i)
	}
	traces := map[spanctx.TraceID]bool{}
	var cookie uint64
	for i := 0; i < n; i++ {
		<-arrived
		fr := e.span.Next(5 * time.Second)
		if fr.Op != 1 || fr.Name != "HTTP GET /h2" || fr.Remote != warm.local {
			t.Fatalf("got %v, want a bind of the connection from %s", fr, warm.local)
		}
		if cookie == 0 {
			cookie = fr.Cookie
		} else if fr.Cookie != cookie {
			t.Fatalf("HTTP/2 requests bound different sockets: %d and %d", cookie, fr.Cookie)
		}
		traces[fr.Trace] = true
	}
	if len(traces) != n {
		t.Fatalf("%d distinct traces bound, want %d", len(traces), n)
	}
	e.span.None(200*time.Millisecond, "requests still running on the connection")
	close(release)
	for i := 0; i < n; i++ {
		if r := <-results; r.err != nil || r.proto != 2 || !r.reused || r.local != warm.local {
			t.Fatalf("%+v, want HTTP/2 on the warm connection %s", r, warm.local)
		}
	}
	if fr := e.span.Next(5 * time.Second); fr.Op != 2 || fr.Cookie != cookie {
		t.Fatalf("got %v, want the unbind of cookie %d", fr, cookie)
	}
	e.span.None(300*time.Millisecond, "after the unbind")
	e.checkStats(httpserver.Stats{Requests: n + 1, Bound: n, Unbound: 1, NoTraceparent: 1})
}

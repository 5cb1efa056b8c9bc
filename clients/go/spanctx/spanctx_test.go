package spanctx

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

var (
	testTrace = TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	testSpan  = SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}
)

func TestEncodeBind(t *testing.T) {
	b, err := EncodeBind(testTrace, testSpan, 1, "GET /x")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x08, 0x01, 0x12, 0x10}, testTrace[:]...)
	want = append(want, 0x1a, 0x08)
	want = append(want, testSpan[:]...)
	want = append(want, 0x20, 0x01, 0x2a, 0x06)
	want = append(want, "GET /x"...)
	if !bytes.Equal(b, want) {
		t.Fatalf("frame\n got %x\nwant %x", b, want)
	}
	if _, err := EncodeBind(testTrace, testSpan, 1, string(make([]byte, 33))); err == nil {
		t.Fatal("a 33-byte name must be refused")
	}
	if !bytes.Equal(EncodeUnbind(), []byte{0x08, 0x02}) {
		t.Fatal("unbind frame")
	}
	if id, err := ParseTraceID("4bf92f3577b34da6a3ce929d0e0e4736"); err != nil || id != testTrace {
		t.Fatal("ParseTraceID", err)
	}
}

// A fake span server: the HTTP request's own connection must arrive as SCM_RIGHTS with the
// bind frame, i.e. a TCP socket whose peer is the HTTP server.
func TestHTTPClientBindsItsConnection(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "span.sock")
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type got struct {
		frame []byte
		peer  string
		err   error
	}
	ch := make(chan got, 1)
	go func() {
		c, err := l.AcceptUnix()
		if err != nil {
			ch <- got{err: err}
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 513), make([]byte, 128)
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			ch <- got{err: err}
			return
		}
		msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			ch <- got{err: err}
			return
		}
		fds, err := syscall.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			ch <- got{err: err}
			return
		}
		f := os.NewFile(uintptr(fds[0]), "passed")
		defer f.Close()
		fc, err := net.FileConn(f)
		if err != nil {
			ch <- got{err: err}
			return
		}
		defer fc.Close()
		ch <- got{frame: buf[:n], peer: fc.RemoteAddr().String()}
	}()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()

	c, err := Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var traceErr error
	ctx := httptrace.WithClientTrace(context.Background(),
		c.ClientTrace(testTrace, testSpan, 1, "GET /", func(e error) { traceErr = e }))
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if traceErr != nil {
		t.Fatal(traceErr)
	}
	g := <-ch
	if g.err != nil {
		t.Fatal(g.err)
	}
	want, _ := EncodeBind(testTrace, testSpan, 1, "GET /")
	if !bytes.Equal(g.frame, want) {
		t.Fatalf("frame %x, want %x", g.frame, want)
	}
	if g.peer != srv.Listener.Addr().String() {
		t.Fatalf("passed socket's peer is %s, want the HTTP server %s", g.peer, srv.Listener.Addr())
	}
}

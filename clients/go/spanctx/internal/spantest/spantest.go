// Package spantest is a span socket for the integrations' tests: a SOCK_SEQPACKET listener
// decoding frames as traceiface's span socket does, with the passed TCP socket's identity.
package spantest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"traceiface.local/spanctx"
)

// Frame is one decoded span frame as the span socket received it, with the passed TCP
// socket's identity.
type Frame struct {
	Op     int // 1 bind, 2 unbind
	Trace  spanctx.TraceID
	Span   spanctx.SpanID
	Flags  byte
	Name   string
	Cookie uint64 // SO_COOKIE of the passed socket
	Local  string // its local address (the server side in server tests)
	Remote string // its peer
}

func (f Frame) String() string {
	op := map[int]string{1: "bind", 2: "unbind"}[f.Op]
	return fmt.Sprintf("%s trace=%x span=%x flags=%d name=%q cookie=%d %s<-%s", op, f.Trace,
		f.Span, f.Flags, f.Name, f.Cookie, f.Local, f.Remote)
}

// Server is a SOCK_SEQPACKET listener decoding frames like traceiface's span socket.
type Server struct {
	t      *testing.T
	path   string
	l      *net.UnixListener
	frames chan Frame
	mu     sync.Mutex
	conns  []*net.UnixConn
	wg     sync.WaitGroup
}

// Start listens at path until the test ends.
func Start(t *testing.T, path string) *Server {
	t.Helper()
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	f := &Server{t: t, path: path, l: l, frames: make(chan Frame, 1000)}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := l.AcceptUnix()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				f.read(c)
			}()
		}
	}()
	t.Cleanup(f.Stop)
	return f
}

// Stop closes the listener (removing the socket file) and every client connection.
func (f *Server) Stop() {
	f.l.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

func (f *Server) read(c *net.UnixConn) {
	buf, oob := make([]byte, 600), make([]byte, 256)
	for {
		n, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil || (n == 0 && oobn == 0) {
			return
		}
		fr, err := decode(buf[:n], oob[:oobn])
		if err != nil {
			f.t.Errorf("span socket: %v", err)
			continue
		}
		f.frames <- fr
	}
}

func decode(b, oob []byte) (Frame, error) {
	var fr Frame
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return fr, fmt.Errorf("want one control message, got %d (%v)", len(msgs), err)
	}
	fds, err := syscall.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return fr, fmt.Errorf("want one fd, got %d (%v)", len(fds), err)
	}
	file := os.NewFile(uintptr(fds[0]), "passed")
	defer file.Close()
	var cookie uint64
	size := uint32(8)
	if _, _, e := syscall.Syscall6(syscall.SYS_GETSOCKOPT, file.Fd(), syscall.SOL_SOCKET,
		57 /* SO_COOKIE */, uintptr(unsafe.Pointer(&cookie)), uintptr(unsafe.Pointer(&size)),
		0); e != 0 {
		return fr, fmt.Errorf("SO_COOKIE: %v", e)
	}
	fr.Cookie = cookie
	fc, err := net.FileConn(file)
	if err != nil {
		return fr, err
	}
	fr.Local, fr.Remote = fc.LocalAddr().String(), fc.RemoteAddr().String()
	fc.Close()

	for len(b) > 0 {
		key, n := uvarint(b)
		if n == 0 {
			return fr, errors.New("bad key")
		}
		b = b[n:]
		switch key & 7 {
		case 0:
			v, n := uvarint(b)
			if n == 0 {
				return fr, errors.New("bad varint")
			}
			b = b[n:]
			switch key >> 3 {
			case 1:
				fr.Op = int(v)
			case 4:
				fr.Flags = byte(v)
			}
		case 2:
			l, n := uvarint(b)
			if n == 0 || uint64(len(b)-n) < l {
				return fr, errors.New("bad length")
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			switch key >> 3 {
			case 2:
				copy(fr.Trace[:], data)
			case 3:
				copy(fr.Span[:], data)
			case 5:
				fr.Name = string(data)
			}
		default:
			return fr, fmt.Errorf("wire type %d", key&7)
		}
	}
	return fr, nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// Next waits for the next frame.
func (f *Server) Next(within time.Duration) Frame {
	f.t.Helper()
	select {
	case fr := <-f.frames:
		return fr
	case <-time.After(within):
		f.t.Fatalf("no span frame within %v", within)
	}
	return Frame{}
}

// None asserts that no frame arrives for d.
func (f *Server) None(d time.Duration, why string) {
	f.t.Helper()
	select {
	case fr := <-f.frames:
		f.t.Fatalf("%s: unexpected frame %v", why, fr)
	case <-time.After(d):
	}
}

// Cookie is SO_COOKIE of c's TCP socket (a *net.TCPConn, or a *tls.Conn over one), to compare
// with Frame.Cookie: the frame passed that very socket. 0 when it has none.
func Cookie(c net.Conn) uint64 {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var cookie uint64
	size := uint32(8)
	raw.Control(func(fd uintptr) {
		syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.SOL_SOCKET, 57, /* SO_COOKIE */
			uintptr(unsafe.Pointer(&cookie)), uintptr(unsafe.Pointer(&size)), 0)
	})
	return cookie
}

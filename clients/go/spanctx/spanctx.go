// Package spanctx tells a local traceiface which trace and span are using which TCP
// connection, so that the kernel's retransmit events of that connection carry the trace id
// (in traceiface's JSON lines and as OpenMetrics exemplars).
//
// Frames follow proto/span_context.proto in the traceiface repository and go over a
// SOCK_SEQPACKET Unix socket (default /run/traceiface/span.sock). The TCP socket itself is
// passed as SCM_RIGHTS: that is the proof that this process owns the connection. Nothing is
// answered; refusals are counted by traceiface in traceiface_span_frames_total{result}.
//
// Standard library only.
package spanctx

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync"
	"syscall"
)

// DefaultSocket is where traceiface listens unless started with --span.socket.
const DefaultSocket = "/run/traceiface/span.sock"

// MaxNameLen is the longest span name traceiface accepts (printable ASCII).
const MaxNameLen = 32

// TraceID and SpanID are W3C trace-context ids.
type (
	TraceID [16]byte
	SpanID  [8]byte
)

// ParseTraceID parses 32 hex digits.
func ParseTraceID(s string) (TraceID, error) {
	var t TraceID
	return t, parseHex(s, t[:])
}

// ParseSpanID parses 16 hex digits.
func ParseSpanID(s string) (SpanID, error) {
	var id SpanID
	return id, parseHex(s, id[:])
}

func parseHex(s string, out []byte) error {
	if len(s) != 2*len(out) {
		return fmt.Errorf("spanctx: want %d hex digits, got %q", 2*len(out), s)
	}
	_, err := hex.Decode(out, []byte(s))
	return err
}

const (
	opBind   = 1
	opUnbind = 2
)

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendBytes(b []byte, field uint64, data []byte) []byte {
	b = appendVarint(b, field<<3|2)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

// EncodeBind is the protobuf frame of a bind (exported for tests and other transports).
func EncodeBind(t TraceID, s SpanID, flags byte, name string) ([]byte, error) {
	if len(name) > MaxNameLen {
		return nil, fmt.Errorf("spanctx: name longer than %d bytes", MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] > 0x7e {
			return nil, errors.New("spanctx: name must be printable ASCII")
		}
	}
	b := appendVarint(nil, 1<<3|0)
	b = appendVarint(b, opBind)
	b = appendBytes(b, 2, t[:])
	b = appendBytes(b, 3, s[:])
	if flags != 0 {
		b = appendVarint(b, 4<<3|0)
		b = appendVarint(b, uint64(flags))
	}
	if name != "" {
		b = appendBytes(b, 5, []byte(name))
	}
	return b, nil
}

// EncodeUnbind is the protobuf frame of an unbind.
func EncodeUnbind() []byte { return []byte{1 << 3, opUnbind} }

// Client is one connection to traceiface's span socket; safe for concurrent use.
type Client struct {
	mu   sync.Mutex
	conn *net.UnixConn
}

// Dial connects to the span socket at path (DefaultSocket when empty).
func Dial(path string) (*Client, error) {
	if path == "" {
		path = DefaultSocket
	}
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return nil, err
	}
	return &Client{conn: c}, nil
}

// Close closes the span socket (bindings stay until unbind, TTL or their connection closes).
func (c *Client) Close() error { return c.conn.Close() }

// Bind binds the trace context to the TCP connection conn (a *net.TCPConn, or a *tls.Conn
// over one). It replaces an earlier binding of the same connection.
func (c *Client) Bind(conn net.Conn, t TraceID, s SpanID, flags byte, name string) error {
	frame, err := EncodeBind(t, s, flags, name)
	if err != nil {
		return err
	}
	return c.send(conn, frame)
}

// Unbind forgets the binding of conn.
func (c *Client) Unbind(conn net.Conn) error { return c.send(conn, EncodeUnbind()) }

// rawConnOf is the TCP socket under conn (a *net.TCPConn, or a *tls.Conn over one), whose
// descriptor Bind, Unbind and their Try forms pass.
func rawConnOf(conn net.Conn) (syscall.RawConn, error) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, fmt.Errorf("spanctx: %T has no file descriptor to pass", conn)
	}
	return sc.SyscallConn()
}

func (c *Client) send(conn net.Conn, frame []byte) error {
	raw, err := rawConnOf(conn)
	if err != nil {
		return err
	}
	var sendErr error
	// Control keeps the fd valid while it is passed; the kernel dups it into the message.
	ctlErr := raw.Control(func(fd uintptr) {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, _, sendErr = c.conn.WriteMsgUnix(frame, syscall.UnixRights(int(fd)), nil)
	})
	if ctlErr != nil {
		return ctlErr
	}
	return sendErr
}

// ClientTrace binds the span to whichever connection an HTTP request gets: use it with
// httptrace.WithClientTrace on the request's context. onError (may be nil) hears failures.
func (c *Client) ClientTrace(t TraceID, s SpanID, flags byte, name string,
	onError func(error)) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if err := c.Bind(info.Conn, t, s, flags, name); err != nil && onError != nil {
				onError(err)
			}
		},
	}
}

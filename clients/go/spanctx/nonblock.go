package spanctx

import (
	"errors"
	"net"
	"syscall"
)

// ErrWouldBlock: TryBind or TryUnbind found the span socket's send buffer full (traceiface is
// not keeping up); the frame was dropped rather than waited for.
var ErrWouldBlock = errors.New("spanctx: span socket busy, frame dropped")

// ErrConnClosed: the TCP connection to bind or unbind is already closed (its binding, if any,
// died with it).
var ErrConnClosed = errors.New("spanctx: connection closed")

// TryBind is Bind without ever waiting: when the frame cannot be queued at once it returns
// ErrWouldBlock. For request paths that must not be slowed by traceiface.
func (c *Client) TryBind(conn net.Conn, t TraceID, s SpanID, flags byte, name string) error {
	frame, err := EncodeBind(t, s, flags, name)
	if err != nil {
		return err
	}
	return c.trySend(conn, frame)
}

// TryUnbind is Unbind without ever waiting (see TryBind).
func (c *Client) TryUnbind(conn net.Conn) error { return c.trySend(conn, EncodeUnbind()) }

func (c *Client) trySend(conn net.Conn, frame []byte) error {
	raw, err := rawConnOf(conn)
	if err != nil {
		return err
	}
	span, err := c.conn.SyscallConn()
	if err != nil {
		return err
	}
	var sendErr error
	ctlErr := raw.Control(func(fd uintptr) {
		rights := syscall.UnixRights(int(fd))
		c.mu.Lock()
		defer c.mu.Unlock()
		// Returning true: Write never parks the goroutine waiting for room.
		if err := span.Write(func(sfd uintptr) bool {
			sendErr = syscall.Sendmsg(int(sfd), frame, rights, nil,
				syscall.MSG_DONTWAIT|syscall.MSG_NOSIGNAL)
			return true
		}); err != nil {
			sendErr = err
		}
	})
	switch {
	case ctlErr != nil && errors.Is(ctlErr, net.ErrClosed):
		return ErrConnClosed
	case ctlErr != nil:
		return ctlErr
	case errors.Is(sendErr, syscall.EAGAIN):
		return ErrWouldBlock
	}
	return sendErr
}

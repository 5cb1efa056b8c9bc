package connbind

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"unsafe"
)

// outq is how many bytes the kernel still holds for the connection: not yet sent or not yet
// acknowledged (SIOCOUTQ).
func outq(conn net.Conn) (int, error) {
	if tc, ok := conn.(*tls.Conn); ok {
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return 0, errors.New("connbind: connection without file descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int32
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ,
			uintptr(unsafe.Pointer(&n)))
	}); err != nil {
		return 0, err
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

//go:build !linux

package connbind

import "net"

// outq: without SIOCOUTQ the connection counts as drained.
func outq(net.Conn) (int, error) { return 0, nil }

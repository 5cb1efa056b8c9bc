package spanctx

import (
	"errors"
)

// ErrTraceparent is the error of a malformed W3C traceparent value.
var ErrTraceparent = errors.New("spanctx: malformed traceparent")

// ParseTraceparent parses a W3C Trace Context traceparent value,
// "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>", as the recommendation says:
// lowercase hex only, version ff and all-zero ids are invalid, a version above 00 is read by
// its first 55 characters (followed by the end or a '-'). Whitespace is not trimmed.
func ParseTraceparent(v string) (t TraceID, parent SpanID, flags byte, err error) {
	if len(v) < 55 {
		return t, parent, 0, ErrTraceparent
	}
	ver, ok := lowerHexByte(v[0:2])
	switch {
	case !ok || ver == 0xff:
		return t, parent, 0, ErrTraceparent
	case ver == 0 && len(v) != 55:
		return t, parent, 0, ErrTraceparent
	case len(v) > 55 && v[55] != '-':
		return t, parent, 0, ErrTraceparent
	case v[2] != '-' || v[35] != '-' || v[52] != '-':
		return t, parent, 0, ErrTraceparent
	}
	if !lowerHex(v[3:35], t[:]) || !lowerHex(v[36:52], parent[:]) || t == (TraceID{}) ||
		parent == (SpanID{}) {
		return TraceID{}, SpanID{}, 0, ErrTraceparent
	}
	if flags, ok = lowerHexByte(v[53:55]); !ok {
		return TraceID{}, SpanID{}, 0, ErrTraceparent
	}
	return t, parent, flags, nil
}

func lowerHex(s string, out []byte) bool {
	for i := range out {
		b, ok := lowerHexByte(s[2*i : 2*i+2])
		if !ok {
			return false
		}
		out[i] = b
	}
	return true
}

func lowerHexByte(s string) (byte, bool) {
	hi, ok1 := lowerNibble(s[0])
	lo, ok2 := lowerNibble(s[1])
	return hi<<4 | lo, ok1 && ok2
}

func lowerNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

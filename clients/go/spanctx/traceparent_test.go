package spanctx

import "testing"

func TestParseTraceparent(t *testing.T) {
	const ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	tid, sid, flags, err := ParseTraceparent(ok)
	if err != nil || tid != testTrace || sid != testSpan || flags != 1 {
		t.Fatalf("%s: %x %x %d %v", ok, tid, sid, flags, err)
	}
	// A later version: its first 55 characters, then the end or a '-'.
	if _, _, _, err := ParseTraceparent("cc" + ok[2:] + "-what-the-future-holds"); err != nil {
		t.Fatal("version cc with more fields:", err)
	}
	if _, _, f, err := ParseTraceparent("00" + ok[2:53] + "00"); err != nil || f != 0 {
		t.Fatal("flags 00:", f, err)
	}
	for _, bad := range []string{
		"",
		ok[:54],
		ok + "-",                // version 00 is exactly 55 characters
		ok + " ",                // no trimming
		"ff" + ok[2:],           // version ff is invalid
		"0g" + ok[2:],           // not hex
		"cc" + ok[2:] + "x",     // a later version: the 56th character must be '-'
		"00_" + ok[3:],          // separators
		ok[:35] + "_" + ok[36:], //
		ok[:52] + "_" + ok[53:], //
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", // uppercase
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01", // zero trace id
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", // zero parent id
		"00-4bf92f3577b34da6a3ce929d0e0e473z-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
		"00-4bf92f3577b34da6a3ce929d0e0e47-3600f067aa0ba902b7-01",
	} {
		if _, _, _, err := ParseTraceparent(bad); err != ErrTraceparent {
			t.Errorf("%q: got %v, want ErrTraceparent", bad, err)
		}
	}
}

package sqlconn

import "testing"

func TestKeyword(t *testing.T) {
	for q, want := range map[string]string{
		"select 1":                       "SELECT",
		"  \n\tInsert INTO t VALUES (1)": "INSERT",
		"/* a */ -- b\n (SELECT 1)":      "SELECT",
		"WITH x AS (SELECT 1) SELECT *":  "WITH",
		"":                               "",
		"-- only a comment":              "",
		"/* unterminated":                "",
		"42":                             "",
		"abcdefghijklmnopqrstuvwxyz":     "", // no keyword: maybe data
		"secret_value; SELECT 1":         "", // no command: maybe data
		"vacuum":                         "VACUUM",
	} {
		if got := keyword(q); got != want {
			t.Errorf("keyword(%q) = %q, want %q", q, got, want)
		}
	}
}

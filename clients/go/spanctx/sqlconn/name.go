package sqlconn

import "strings"

// keyword is the statement's first word, upper case, after blanks, comments and opening
// parentheses, when it is an SQL command's keyword: a span name that never holds the query's
// data. "" otherwise.
func keyword(q string) string {
	for {
		q = strings.TrimLeft(q, " \t\r\n\f(")
		switch {
		case strings.HasPrefix(q, "--"):
			if i := strings.IndexByte(q, '\n'); i >= 0 {
				q = q[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(q, "/*"):
			if i := strings.Index(q, "*/"); i >= 0 {
				q = q[i+2:]
				continue
			}
			return ""
		}
		break
	}
	n := 0
	for n < len(q) && (q[n] >= 'a' && q[n] <= 'z' || q[n] >= 'A' && q[n] <= 'Z') {
		n++
	}
	if w := strings.ToUpper(q[:n]); commands[w] {
		return w
	}
	return ""
}

// commands are the first keywords of SQL commands (PostgreSQL's, which cover the standard's).
var commands = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`ABORT ALTER ANALYZE BEGIN CALL CHECKPOINT CLOSE CLUSTER
		COMMENT COMMIT COPY CREATE DEALLOCATE DECLARE DELETE DISCARD DO DROP END EXECUTE EXPLAIN
		FETCH GRANT IMPORT INSERT LISTEN LOAD LOCK MERGE MOVE NOTIFY PREPARE REASSIGN REFRESH
		REINDEX RELEASE RESET REVOKE ROLLBACK SAVEPOINT SECURITY SELECT SET SHOW START TABLE
		TRUNCATE UNLISTEN UPDATE UPSERT VACUUM VALUES WITH`) {
		commands[w] = true
	}
}

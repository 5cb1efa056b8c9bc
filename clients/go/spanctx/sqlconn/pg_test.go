package sqlconn_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	_ "github.com/lib/pq" // "postgres" for the readiness check
)

// The PostgreSQL server of the tests: initdb into a temp dir, started on a free port on
// 127.0.0.1 (as user postgres when run as root: postgres refuses root), stopped at the end.
var (
	pgAddr string // host:port
	pgSkip string // why the tests skip: no PostgreSQL binaries and not in CI
)

func TestMain(m *testing.M) {
	stop, err := startPostgres()
	if err != nil {
		fmt.Fprintln(os.Stderr, "sqlconn tests:", err)
		if stop != nil {
			stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	os.Exit(code)
}

func needPostgres(t *testing.T) {
	t.Helper()
	if pgSkip != "" {
		t.Skip(pgSkip)
	}
}

// pgBin is the directory of the newest installed PostgreSQL's initdb and postgres
// ($TIF_PG_BIN instead), "" when there is none.
func pgBin() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	if d := os.Getenv("TIF_PG_BIN"); d != "" {
		dirs = []string{d}
	}
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		_, e1 := os.Stat(filepath.Join(d, "postgres"))
		_, e2 := os.Stat(filepath.Join(d, "initdb"))
		if e1 == nil && e2 == nil {
			return d
		}
	}
	return ""
}

func pgVersion(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

const noPG = "no PostgreSQL server binaries (initdb, postgres) in /usr/lib/postgresql/*/bin or $TIF_PG_BIN"

// startPostgres starts the server; stop (non-nil once something needs undoing) stops it and
// removes its files.
func startPostgres() (stop func(), err error) {
	bin := pgBin()
	if bin == "" {
		if os.Getenv("CI") == "true" { // as tests/integration's tif_skip_or_fail
			return nil, errors.New(noPG + " (CI=true: not skipping)")
		}
		pgSkip = noPG + " (scripts/install-deps.sh)"
		return nil, nil
	}
	dir, err := os.MkdirTemp("", "sqlconn-pg.")
	if err != nil {
		return nil, err
	}
	var proc *exec.Cmd
	stop = func() {
		if proc != nil {
			proc.Process.Signal(syscall.SIGINT) // fast shutdown
			done := make(chan struct{})
			go func() { proc.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				proc.Process.Kill()
				<-done
			}
		}
		os.RemoveAll(dir)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return stop, fmt.Errorf("running as root needs user postgres: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return stop, err
		}
	}
	cmd := func(name string, args ...string) *exec.Cmd {
		c := exec.Command(filepath.Join(bin, name), args...)
		// Pdeathsig: the server does not outlive a test binary that dies.
		c.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL}
		c.Dir = dir
		return c
	}
	data := filepath.Join(dir, "data")
	if out, err := cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--no-sync").CombinedOutput(); err != nil {
		return stop, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return stop, err
	}
	log, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return stop, err
	}
	defer log.Close()
	proc = cmd("postgres", "-D", data, "-k", dir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off")
	proc.Stdout, proc.Stderr = log, log
	if err := proc.Start(); err != nil {
		proc = nil
		return stop, err
	}
	pgAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	db, err := sql.Open("postgres", pgDSN())
	if err != nil {
		return stop, err
	}
	defer db.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return stop, nil
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(log.Name())
			return stop, fmt.Errorf("postgres not ready within 30s: %v\n%s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pgDSN is the test server's URL for both drivers.
func pgDSN(params ...string) string {
	q := "sslmode=disable"
	if len(params) > 0 {
		q = params[0]
	}
	return "postgres://postgres@" + pgAddr + "/postgres?" + q
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

package natsconn_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// natsServer is a real nats-server on a loopback port of its own, killed when the test ends.
type natsServer struct {
	t    *testing.T
	addr string
	log  string
	cmd  *exec.Cmd
}

func startServer(t *testing.T) *natsServer {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &natsServer{t: t, addr: addr, log: filepath.Join(t.TempDir(), "nats-server.log")}
	s.start(bin)
	t.Cleanup(s.kill)
	return s
}

func (s *natsServer) url() string { return "nats://" + s.addr }

// start runs the server on s.addr and waits until it says it is ready.
func (s *natsServer) start(bin string) {
	s.t.Helper()
	host, port, _ := net.SplitHostPort(s.addr)
	os.Remove(s.log)
	s.cmd = exec.Command(bin, "-a", host, "-p", port, "-l", s.log)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if b, _ := os.ReadFile(s.log); strings.Contains(string(b), "Server is ready") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, _ := os.ReadFile(s.log)
	s.t.Fatalf("nats-server on %s not ready within 10 s: %s", s.addr, b)
}

// restart kills the server and starts it again on the same address.
func (s *natsServer) restart() {
	s.t.Helper()
	s.kill()
	s.start(s.cmd.Path)
}

func (s *natsServer) kill() {
	if s.cmd == nil || s.cmd.Process == nil || s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGCONT)
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// pause stops the server process (SIGSTOP): its kernel acknowledges bytes only while its
// receive buffer has room; resume continues it.
func (s *natsServer) pause() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGSTOP)
	// The signal is asynchronous: wait until every thread is stopped ("T" in their stat).
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if s.stopped() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.t.Fatal("nats-server did not stop within 5 s")
}

func (s *natsServer) stopped() bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", s.cmd.Process.Pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		// "pid (comm) S ...": the state follows the last ')'.
		i := strings.LastIndexByte(string(b), ')')
		if err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return len(tasks) > 0
}

func (s *natsServer) resume() { s.cmd.Process.Signal(syscall.SIGCONT) }

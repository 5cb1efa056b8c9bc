// example: a NATS publisher whose connection is bound to the trace of the messages it
// publishes (their traceparent header), so traceiface's retransmit lines and exemplars for it
// carry the trace id. It prints "local_port N" once connected and its counters as JSON at
// the end.
//
//	go build -o natspub traceiface.local/spanctx/natsconn/example   # GOPATH mode
//	./natspub -server nats://127.0.0.1:4222 -count 40 \
//	    -traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/natsconn"
)

func main() {
	server := flag.String("server", nats.DefaultURL, "NATS server URL")
	socket := flag.String("socket", spanctx.DefaultSocket, "traceiface span socket")
	subject := flag.String("subject", "bulk.data", "subject to publish on")
	count := flag.Int("count", 40, "messages to publish")
	size := flag.Int("size", 1000000, "payload bytes per message (the server's max_payload: 1 MB)")
	traceparent := flag.String("traceparent", "", "W3C traceparent header of every message (none: untraced)")
	cc := flag.String("cc", "", "TCP congestion control of the connection (e.g. bbr)")
	flag.Parse()

	b := natsconn.NewSocket(*socket) // redials while traceiface is away
	defer b.Close()
	// The application's own dialer, which natsconn wraps.
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		if *cc == "" {
			return nil
		}
		var err error
		rc.Control(func(fd uintptr) {
			err = syscall.SetsockoptString(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CONGESTION, *cc)
		})
		return err
	}}
	nc, err := b.Connect(*server, nats.Dialer(d), nats.Name("natsconn-example"))
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	fmt.Printf("local_port %d\n", nc.NetConn().LocalAddr().(*net.TCPAddr).Port)

	payload := make([]byte, *size)
	for i := 0; i < *count; i++ {
		m := nats.NewMsg(*subject)
		if *traceparent != "" {
			m.Header.Set("traceparent", *traceparent)
		}
		m.Data = payload
		if err := nc.PublishMsg(m); err != nil {
			log.Fatalf("publish %d: %v", i, err)
		}
	}
	// The server's PONG: it has read every message.
	if err := nc.FlushTimeout(2 * time.Minute); err != nil {
		log.Fatal(err)
	}
	// Stay connected until the binding is undone (the send queue drained), so that the whole
	// traced publishing counts and the connection closes unbound.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if s := b.Stats(); s.Unbound >= s.Bound {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	json.NewEncoder(os.Stdout).Encode(b.Stats())
}

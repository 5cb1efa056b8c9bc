// httpserver: an HTTP server whose connections are bound to the trace of the request being
// served (the traceparent header), so traceiface's retransmit lines and exemplars for them
// carry its trace id.
//
//	go run ./examples/httpserver -listen :8080 &
//	curl -o /dev/null -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
//	    'http://127.0.0.1:8080/blob?size=30000000'
//	curl http://127.0.0.1:8080/stats
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/httpserver"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to serve on")
	socket := flag.String("socket", spanctx.DefaultSocket, "traceiface span socket")
	flag.Parse()

	mux := http.NewServeMux()
	// GET /blob?size=N: N zero bytes (default 30 MB).
	mux.HandleFunc("/blob", func(w http.ResponseWriter, r *http.Request) {
		size := 30 << 20
		if s := r.URL.Query().Get("size"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				http.Error(w, "bad size", http.StatusBadRequest)
				return
			}
			size = n
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		chunk := make([]byte, 64<<10)
		for size > 0 {
			n := len(chunk)
			if n > size {
				n = size
			}
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			size -= n
		}
	})

	srv := &http.Server{Handler: mux}
	m := httpserver.NewSocket(*socket) // redials while traceiface is away
	defer m.Close()
	// GET /stats: the middleware's counters.
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(m.Stats())
	})
	m.Install(srv)

	l, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("listening on %s", l.Addr())
	log.Fatal(srv.Serve(l))
}

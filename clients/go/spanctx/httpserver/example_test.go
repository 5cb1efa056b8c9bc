package httpserver_test

import (
	"io"
	"log"
	"net/http"

	"traceiface.local/spanctx"
	"traceiface.local/spanctx/httpserver"
)

// A server whose connections carry the trace of the request they serve.
func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("/profile", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: mux}
	m := httpserver.NewSocket(spanctx.DefaultSocket)
	defer m.Close()
	m.Install(srv)
	if err := srv.ListenAndServe(); err != nil {
		log.Print(err, "; stats: ", m.Stats())
	}
}

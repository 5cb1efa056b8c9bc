package spanctx_test

import (
	"context"
	"log"
	"net/http"
	"net/http/httptrace"

	"traceiface.local/spanctx"
)

// An HTTP client whose request binds its span to the connection it uses.
func Example() {
	c, err := spanctx.Dial(spanctx.DefaultSocket)
	if err != nil {
		log.Print("no traceiface here: ", err)
		return
	}
	defer c.Close()
	tid, _ := spanctx.ParseTraceID("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := spanctx.ParseSpanID("00f067aa0ba902b7")
	ctx := httptrace.WithClientTrace(context.Background(),
		c.ClientTrace(tid, sid, 1, "GET /profile", func(err error) { log.Print(err) }))
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:8080/profile", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

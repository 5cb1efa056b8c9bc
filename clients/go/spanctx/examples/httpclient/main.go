// httpclient: GET a URL with the request's span bound to its TCP connection, so traceiface's
// retransmit lines and exemplars for that connection carry the trace id.
//
//	go run ./examples/httpclient -url http://10.0.0.2:8080/ -trace-id 4bf92f35...
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptrace"

	"traceiface.local/spanctx"
)

func main() {
	socket := flag.String("socket", spanctx.DefaultSocket, "traceiface span socket")
	url := flag.String("url", "http://127.0.0.1:9742/metrics", "URL to GET")
	traceHex := flag.String("trace-id", "", "32 hex digits (random when empty)")
	name := flag.String("name", "httpclient.GET", "span name, <= 32 printable ASCII bytes")
	flag.Parse()

	var tid spanctx.TraceID
	var sid spanctx.SpanID
	rand.Read(tid[:])
	rand.Read(sid[:])
	if *traceHex != "" {
		var err error
		if tid, err = spanctx.ParseTraceID(*traceHex); err != nil {
			log.Fatal(err)
		}
	}
	c, err := spanctx.Dial(*socket)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ctx := httptrace.WithClientTrace(context.Background(),
		c.ClientTrace(tid, sid, 1, *name, func(err error) { log.Print("bind: ", err) }))
	req, err := http.NewRequestWithContext(ctx, "GET", *url, nil)
	if err != nil {
		log.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Printf("%s: %d bytes, trace_id=%s span_id=%s\n", resp.Status, n,
		hex.EncodeToString(tid[:]), hex.EncodeToString(sid[:]))
}

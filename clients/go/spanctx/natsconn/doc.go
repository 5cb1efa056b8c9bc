// Package natsconn binds a nats.go client's TCP connection to the trace of the message it
// publishes, so that traceiface's retransmit lines and exemplars for that connection carry
// the trace id.
//
//	b := natsconn.NewSocket(spanctx.DefaultSocket) // or natsconn.New(client)
//	defer b.Close()
//	nc, err := b.Connect(nats.DefaultURL, nats.Name("orders")) // any nats.Option
//	...
//	msg := nats.NewMsg("orders.new")
//	msg.Header.Set("traceparent", tp) // as an OpenTelemetry propagator injects it
//	msg.Data = payload
//	err = nc.PublishMsg(msg)
//
// Conn is a *nats.Conn (embedded: subscriptions, Flush, Drain, ... as usual) whose publishing
// methods bind: PublishMsg and RequestMsg read the message's W3C traceparent header (the
// publisher's span: its parent id is the span bound), PublishSpan takes the span from the
// caller; Publish and Request, without headers, publish untraced. The span name is
// "NATS PUB " + subject, "NATS REQ " + subject for requests (Binder.Name to change it). A
// message without a (valid) traceparent binds nothing and undoes a binding left on the
// connection by an earlier message at once: its bytes are not that trace's.
//
// One NATS connection carries many messages, and traceiface binds a connection to one trace
// at a time: the last message to start publishing wins. The binding is undone when no publish
// is running any more and the bytes published have left nats.go's buffer and been
// acknowledged by the server's kernel (SIOCOUTQ), so retransmits of a message's tail count
// for its trace while an idle connection belongs to none. Small messages sent back to back
// under different traces share the connection's segments: a retransmit is attributed to
// whichever trace is bound at that moment.
//
// The connection is reached through nats.go's dialer: Connect installs a nats.CustomDialer
// wrapping the one the options set (or a net.Dialer with the options' Timeout), which keeps
// the TCP connection it dialed last. A reconnect dials a new connection, bound from the next
// message on; the old one's binding died with it. Messages nats.go buffers while reconnecting
// are sent on the new connection after the binding of their publish may have ended. With TLS,
// the TCP connection under it is bound.
//
// Only the Conn's own methods bind: messages published through the embedded *nats.Conn's
// other paths (Msg.Respond, JetStream, encoded connections) go out untraced. Send a reply
// with the Conn's PublishMsg (Subject: the request's Reply) to bind it. Messages a
// subscriber receives bind nothing: their retransmits are the server's.
//
// Frames are sent without ever waiting (spanctx.Client.TryBind): when traceiface is absent,
// restarting or not keeping up, messages are published as usual and the miss is counted
// (Stats).
package natsconn

module traceiface.local/spanctx/natsconn

go 1.19

require (
	github.com/nats-io/nats.go v1.22.1
	traceiface.local/spanctx v0.0.0
)

replace traceiface.local/spanctx => ../

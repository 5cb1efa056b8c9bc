module traceiface.local/spanctx/grpcserver

go 1.19

require (
	google.golang.org/grpc v1.33.3
	traceiface.local/spanctx v0.0.0
)

replace traceiface.local/spanctx => ../

module traceiface.local/spanctx

go 1.19

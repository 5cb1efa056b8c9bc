module traceiface.local/spanctx/sqlconn

go 1.19

require traceiface.local/spanctx v0.0.0

replace traceiface.local/spanctx => ../

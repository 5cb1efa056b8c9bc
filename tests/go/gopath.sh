# Sourced: tif_gopath_env DIR exports the environment that builds clients/go/spanctx's
# integrations (grpcserver, natsconn, sqlconn, ...) against Debian's packaged Go libraries:
# GOPATH mode over /usr/share/gocode (golang-*-dev), with clients/go/spanctx linked in as
# traceiface.local/spanctx under DIR. No module downloads happen (GOPROXY=off).
# GOCACHE: $TIF_BUILD_DIR/go-cache when set, else DIR/cache.
tif_gopath_env() {
    local dir=$1 root
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    mkdir -p "$dir/src/traceiface.local"
    ln -sfn "$root/clients/go/spanctx" "$dir/src/traceiface.local/spanctx"
    export GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local
    export GOPATH="$dir:/usr/share/gocode"
    export GOCACHE=${TIF_BUILD_DIR:+$TIF_BUILD_DIR/go-cache}
    GOCACHE=${GOCACHE:-$dir/cache}
}

# tif_go_packages SUBDIR: the import paths of the packages under clients/go/spanctx/SUBDIR
# (GOPATH mode does not walk the symlink, so `...` patterns find nothing).
tif_go_packages() {
    local root d
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/clients/go/spanctx
    while IFS= read -r d; do
        echo "traceiface.local/spanctx/${d#"$root"/}"
    done < <(find "$root/$1" -name '*.go' -printf '%h\n' | sort -u)
}

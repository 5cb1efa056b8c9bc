#!/usr/bin/env bash
# go vet and go test of the packages under clients/go/spanctx/SUBDIR, built in GOPATH mode
# against Debian's golang-*-dev libraries (tests/go/gopath.sh). Usage: gopath_test.sh SUBDIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/gopath.sh"
tmp=$(mktemp -d /tmp/tif-gopath.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tif_gopath_env "$tmp"
mapfile -t pkgs < <(tif_go_packages "$1")
((${#pkgs[@]})) || { echo "no Go packages under clients/go/spanctx/$1" >&2; exit 1; }
unformatted=$(gofmt -l "$here/../../clients/go/spanctx/$1")
[[ -z $unformatted ]] || { echo "gofmt needed: $unformatted" >&2; exit 1; }
go vet "${pkgs[@]}"
go test -count=1 -timeout 240s "${pkgs[@]}"

#!/usr/bin/env bash
# helm/traceiface rendered without helm: tests/helm/render (Go, Debian's packaged sprig and
# ghodss/yaml, built offline in GOPATH mode) renders the chart for four value scenarios; the
# output must pass yamllint, and check_chart.js validates values against values.schema.json
# (ajv), every object against its kubernetes-models class, and what the chart promises.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${TIF_BUILD_DIR:-$root/build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/traceiface-helm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

skip_or_fail() {
    if [[ ${CI:-} == true ]]; then
        echo "FAIL: $* (CI=true: not skipping)" >&2
        exit 1
    fi
    echo "SKIP: $*"
    exit 77
}
command -v go >/dev/null || skip_or_fail "go not installed (golang-go)"
command -v yamllint >/dev/null || skip_or_fail "yamllint not installed"
command -v node >/dev/null || skip_or_fail "node not installed"
[[ -d /usr/share/gocode/src/github.com/Masterminds/sprig ]] ||
    skip_or_fail "golang-github-masterminds-sprig-dev not installed"
[[ -d $root/tests/js/node_modules/kubernetes-models ]] ||
    skip_or_fail "tests/js/node_modules missing (scripts/install-deps.sh runs npm ci)"

# Offline: GOPATH mode against /usr/share/gocode (import paths ending in /v3 resolve there by
# Go's minimal module compatibility), no module proxy, build cache inside the build tree.
mkdir -p "$build/go-cache"
(cd "$here/render" && GOPATH=/usr/share/gocode GO111MODULE=off GOPROXY=off GOFLAGS='' \
    GOCACHE="$build/go-cache" go build -o "$tmp/render" .)
fmt=$(gofmt -l "$here/render")
[[ -z $fmt ]] || { echo "FAIL: gofmt: $fmt" >&2; exit 1; }

chart=$root/helm/traceiface
[[ -f $chart/dashboards/traceiface.json ]] ||
    { echo "FAIL: $chart/dashboards does not reach dashboards/" >&2; exit 1; }
for s in default full privileged hostonly; do
    "$tmp/render" -chart "$chart" -f "$here/scenarios/$s.yaml" \
        -values-out "$tmp/$s.values.json" >"$tmp/$s.yaml"
    echo "rendered $s: $(grep -c '^kind:' "$tmp/$s.yaml") objects," \
        "$(grep '^kind:' "$tmp/$s.yaml" | sort | uniq | awk '{print $2}' | paste -sd' ')"
done
# A ServiceMonitor without the Service it selects must be refused by the chart.
printf 'serviceMonitor:\n  enabled: true\nservice:\n  enabled: false\n' >"$tmp/bad.yaml"
if "$tmp/render" -chart "$chart" -f "$tmp/bad.yaml" >/dev/null 2>&1; then
    echo "FAIL: serviceMonitor without service rendered" >&2
    exit 1
fi

# Errors fail; warnings (only line-length, for the dashboards' JSON) are printed.
yamllint -f parsable -c "$here/yamllint.yaml" "$tmp"/{default,full,privileged}.yaml \
    "$chart/Chart.yaml" "$chart/values.yaml" "$here/scenarios" >"$tmp/yamllint.txt" || {
    grep -v '\[warning\]' "$tmp/yamllint.txt" >&2
    echo "FAIL: yamllint" >&2
    exit 1
}
echo "yamllint: clean ($(grep -c '\[warning\]' "$tmp/yamllint.txt" || true) line-length warnings)"

node "$here/check_chart.js" "$tmp" || exit 1

# The config file the chart ships must be one the exporter accepts, where this build can say.
bin=$build/traceiface
# (The help is read whole: under pipefail, `| grep -q` can kill it with SIGPIPE.)
if [[ -x $bin && $("$bin" --help 2>&1 || true) == *check-config* ]]; then
    for s in default full privileged hostonly; do
        node -e '
            const y = require(process.argv[1] + "/js-yaml");
            const docs = y.loadAll(require("fs").readFileSync(process.argv[2], "utf8"));
            const cm = docs.find((d) => d && d.kind === "ConfigMap" && "config.yaml" in d.data);
            process.stdout.write(cm.data["config.yaml"]);' \
            "$root/tests/js/node_modules" "$tmp/$s.yaml" >"$tmp/$s.config.yaml"
        "$bin" check-config "$tmp/$s.config.yaml" ||
            { echo "FAIL: $s: traceiface check-config refused the chart's config" >&2; exit 1; }
    done
else
    echo "note: $bin has no check-config; the chart's config file was not checked"
fi

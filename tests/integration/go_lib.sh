# Helpers of the Go integrations' tests (go_*_test.sh), sourced after lib.sh. Each test defines
# lines CLIENT_PORT: the bound socket's retransmit lines on one connection, one JSON per line.

rand_hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }
# count JQ_FILTER: how many of the lines on stdin match.
count() { jq -s "[.[] | select($1)] | length"; }
# settle CLIENT_PORT: wait (at most 10 s) for the connection's lines to stop coming (ring
# readers, limiter).
settle() {
    local n m
    n=$(lines "$1" | wc -l)
    for _ in $(seq 20); do
        sleep 0.5
        m=$(lines "$1" | wc -l)
        [[ $m == "$n" ]] && return 0
        n=$m
    done
}

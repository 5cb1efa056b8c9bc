# Shared by the OTLP integration tests (sourced after lib.sh, with $here set): the stand-in
# receiver, otlp_receiver.py, started and cleaned up.

# start_receiver DIR PORT: sets RECV_PID once the port listens.
start_receiver() {
    mkdir -p "$1"
    python3 "$here/otlp_receiver.py" serve "$1" "$2" >"$1.log" 2>&1 &
    RECV_PID=$!
    tif_cleanup_push "tif_kill_wait $RECV_PID 2"
    for _ in $(seq 50); do
        ss -Hltn "sport = :$2" | grep -q . && return 0
        sleep 0.1
    done
    tif_fail "receiver on port $2 did not start: $(cat "$1.log")"
}

# shellcheck shell=bash
# Shell helpers shared by bench/run and scripts/bench-smoke (sourced, not executed).
#
# Servers are started on a free loopback port with a fresh data directory, rate limits off, and
# are stopped by PID (SIGTERM, then SIGKILL after a bounded wait). Every wait here is bounded.

# A free TCP port on 127.0.0.1 (another process may take it before we bind: callers retry).
bench_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_wait_ready URL SECONDS PID: 0 once GET URL/healthz answers 200, 1 on timeout or when the
# process PID has exited.
bench_wait_ready() {
    local url=$1 seconds=$2 pid=$3 i
    for ((i = 0; i < seconds * 10; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        if curl -fsS -o /dev/null --max-time 2 "$url/healthz" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# bench_readyz_field URL KEY: prints checks.KEY of GET URL/readyz ("ok", "disabled", ...).
bench_readyz_field() {
    curl -sS --max-time 3 "$1/readyz" 2>/dev/null |
        python3 -c 'import json, sys
try:
    print(json.load(sys.stdin).get("checks", {}).get(sys.argv[1], ""))
except Exception:
    print("")' "$2"
}

# bench_start_server BIN DATA_DIR LOG [ENV=VALUE ...]: starts `BIN serve` on a free port with
# the rate limits off and the fd limit raised, optionally pinned with $BENCH_SERVER_CPUS
# (taskset list). Sets BENCH_PID and BENCH_URL; returns 1 if it does not become ready in 30 s.
bench_start_server() {
    local bin=$1 data=$2 log=$3 port
    shift 3
    local pin=()
    if [[ -n ${BENCH_SERVER_CPUS:-} ]]; then pin=(taskset -c "$BENCH_SERVER_CPUS"); fi
    mkdir -p "$data"
    for _ in 1 2 3; do
        port=$(bench_free_port)
        # The subshell raises its own soft fd limit to the hard one, then becomes the server.
        (
            ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
            # One client address opens every connection: no per-address cap (API.md §0.8).
            exec env PARLEY_RATE_AUTH=off PARLEY_RATE_API=off PARLEY_RATE_MESSAGES=off \
                PARLEY_RATE_WS=off PARLEY_MAX_CONNECTIONS_PER_IP=0 \
                PARLEY_LOG_LEVEL="${PARLEY_LOG_LEVEL:-warn}" "$@" \
                "${pin[@]}" "$bin" serve --host 127.0.0.1 --port "$port" --data-dir "$data"
        ) >>"$log" 2>&1 &
        BENCH_PID=$!
        BENCH_URL="http://127.0.0.1:$port"
        if bench_wait_ready "$BENCH_URL" 30 "$BENCH_PID"; then return 0; fi
        bench_stop_pid "$BENCH_PID"
    done
    echo "bench: the server did not start; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    return 1
}

# bench_stop_pid PID: SIGTERM, up to 15 s for a clean exit, then SIGKILL. Returns the exit status
# (or 137 when it had to be killed).
bench_stop_pid() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "bench: process $pid did not stop within 15 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null
        return 137
    fi
    wait "$pid" 2>/dev/null
}

# bench_start_redis DIR: a throwaway redis-server on a free loopback port, no persistence. Sets
# BENCH_REDIS_PID and BENCH_REDIS_URL; returns 1 without redis-server or if it does not answer.
bench_start_redis() {
    local dir=$1 port i
    command -v redis-server >/dev/null || return 1
    mkdir -p "$dir"
    port=$(bench_free_port)
    (cd "$dir" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
        --daemonize no --protected-mode yes >"$dir/redis.log" 2>&1) &
    BENCH_REDIS_PID=$!
    # shellcheck disable=SC2034  # an output of this function
    BENCH_REDIS_URL="redis://127.0.0.1:$port"
    for ((i = 0; i < 50; i++)); do
        if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
        kill -0 "$BENCH_REDIS_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Prints the loopback source addresses parley-bench needs for N sockets (27,000 per address),
# comma-separated, or nothing when the default address suffices.
bench_source_addrs() {
    local n=$1 per=27000 count i out=""
    ((n > per)) || return 0
    count=$(((n + per - 1) / per))
    for ((i = 2; i < count + 2; i++)); do out+="${out:+,}127.0.0.$i"; done
    echo "$out"
}

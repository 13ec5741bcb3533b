#!/usr/bin/env bash
# How hard `tongxin load` can drive a server compared with h2load, both on one core.
# The server (tongxin-interop echo, one event loop) is pinned to core 0; the load generator to
# core 1. Both keep 100 calls in flight over 10 connections (h2load -c 10 -m 10) for DURATION
# seconds after WARMUP seconds, on the same ~100-byte unary echo. The issue's target: tongxin
# reaches at least 80 % of h2load's rate. Prints both rates and the ratio, measured in one run.
# With ROUNDS > 1 the two alternate in ROUNDS runs each (WARMUP s of warm-up, then DURATION s) and
# the medians are compared: on a shared machine a burst of other work then spoils one round of
# one generator rather than its only run.
# Usage: Benchmarks/load/run.sh [DURATION] [WARMUP] [ROUNDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration="${1:-10}"
warmup="${2:-3}"
rounds="${3:-1}"
results="$root/Benchmarks/results"
mkdir -p "$results"
python="${TONGXIN_PYTHON:-python3}"
. "$root/Benchmarks/lib.sh"

echo "building…" >&2
(cd "$root" && swift build -c release --scratch-path .build-bench --product tongxin-interop >&2)
(cd "$root" && swift build -c release --scratch-path .build-bench --product tongxin >&2)
bin="$root/.build-bench/release"

body="$results/load-request.bin"
echo_request_frame "$body"

port=50650
taskset -c 0 "$bin/tongxin-interop" echo --port $port --threads 1 > /dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
wait_port $port

url="http://127.0.0.1:$port/grpc.testing.TestService/UnaryCall"
h2() { taskset -c 1 h2load -c 10 -m 10 -D "$1" -H 'content-type: application/grpc' -H 'te: trailers' "${@:2}" -d "$body" "$url"; }
json=$(echo_request_json)
tx() { taskset -c 1 "$bin/tongxin" load "127.0.0.1:$port" grpc.testing.TestService/UnaryCall -d "$json" \
    -c 100 --connections 10 --warmup "${warmup}s" -z "${duration}s" --output json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["rate"])'; }
rate() { sed -n 's/.* \([0-9.]*\) req\/s.*/\1/p' | head -1; }

rates=""
if [ "$rounds" -le 1 ]; then
    h2 "$warmup" > /dev/null 2>&1 || true
    rates="$(h2 "$duration" 2>&1 | rate) $(tx)"
else
    for _ in $(seq "$rounds"); do
        rates="$rates $(h2 "$duration" --warm-up-time="$warmup" 2>&1 | rate) $(tx)"
    done
fi

"$python" - $rates <<'PY'
import statistics, sys
values = [float(v) for v in sys.argv[1:]]
h2, tx = values[0::2], values[1::2]
if len(h2) == 1:
    print("| generator (1 core)       |    calls/s |")
    print("|--------------------------|-----------:|")
    print(f"| h2load -c 10 -m 10       | {h2[0]:>10.0f} |")
    print(f"| tongxin load -c 100 x10  | {tx[0]:>10.0f} |")
    print(f"tongxin / h2load = {tx[0] / h2[0]:.2f}")
else:
    print("| round  | h2load -c 10 -m 10 | tongxin load -c 100 x10 | ratio |")
    print("|-------:|-------------------:|------------------------:|------:|")
    for i, (a, b) in enumerate(zip(h2, tx), 1):
        print(f"| {i:>6} | {a:>18.0f} | {b:>23.0f} | {b / a:>5.2f} |")
    a, b = statistics.median(h2), statistics.median(tx)
    print(f"| median | {a:>18.0f} | {b:>23.0f} | {b / a:>5.2f} |")
    print(f"tongxin / h2load (medians) = {b / a:.2f}")
PY

#!/usr/bin/env bash
# Unary echo benchmark: a ~100-byte grpc.testing.SimpleRequest, server pinned to core 0,
# h2load on core 1 (-c 10 -m 10, DURATION s after WARMUP s of warm-up), for
#   tongxin (tongxin-interop echo), gRPC C++ (callback API), grpc-swift 2, nghttpd (static file).
# Prints req/s and p50/p99 latency from h2load's per-request log. Results: Benchmarks/results/.
# Usage: Benchmarks/rpc/run.sh [DURATION] [WARMUP]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
duration="${1:-10}"
warmup="${2:-3}"
results="$root/Benchmarks/results"
mkdir -p "$results"
python="${TONGXIN_PYTHON:-python3}"
. "$root/Benchmarks/lib.sh"

# Prebuilt servers may be given as TONGXIN_BIN, GRPC_CPP_BIN, GRPC_SWIFT_BIN.
echo "building…" >&2
if [ -z "${TONGXIN_BIN:-}" ]; then
    (cd "$root" && swift build -c release --scratch-path .build-bench --product tongxin-interop >&2)
fi
tongxin="${TONGXIN_BIN:-$root/.build-bench/release/tongxin-interop}"
cpp="${GRPC_CPP_BIN:-$("$here/build-cpp.sh" "$root/.build-bench/cpp" | tail -1)}"
if [ -z "${GRPC_SWIFT_BIN:-}" ]; then
    (cd "$here/grpc-swift" && swift build -c release --scratch-path .build-gs2 >&2)
fi
grpcswift="${GRPC_SWIFT_BIN:-$here/grpc-swift/.build-gs2/release/EchoServer}"

# SimpleRequest{payload{body: 100 × 'x'}} framed as one gRPC message.
body="$results/request.bin"
echo_request_frame "$body"
mkdir -p "$results/htdocs" && head -c 100 /dev/zero > "$results/htdocs/small"

run() {  # name port url [h2load args…]
    local name="$1" port="$2" url="$3"; shift 3
    local log="$results/$name.log"
    rm -f "$log"  # h2load appends to an existing log
    taskset -c 1 h2load -c 10 -m 10 -D "$warmup" "$@" "$url" > /dev/null 2>&1 || true
    # Measured on warm connections: h2load ignores the first WARMUP s of this run too.
    taskset -c 1 h2load -c 10 -m 10 --warm-up-time="$warmup" -D "$duration" --log-file="$log" "$@" "$url" > "$results/$name.txt" 2>&1
    "$python" - "$name" "$results/$name.txt" "$log" <<'PY'
import re, sys
name, summary, log = sys.argv[1:4]
text = open(summary).read()
rps = float(re.search(r"([\d.]+) req/s", text).group(1))
ok = re.search(r"(\d+) succeeded", text).group(1)
lat = sorted(int(line.split("\t")[2]) for line in open(log) if line.strip())
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] / 1000
print(f"| {name:<12} | {rps:>10.0f} | {p(0.50):>8.2f} | {p(0.99):>8.2f} | {ok} ok |")
PY
}

start() {  # port command…  (pinned to core 0; waits for the port)
    local port="$1"; shift
    taskset -c 0 "$@" > /dev/null 2>&1 &
    echo $!
    wait_port "$port" || true
}

grpc_args=(-H 'content-type: application/grpc' -H 'te: trailers' -d "$body")
echo "| server       |      req/s | p50 (ms) | p99 (ms) |"
echo "|--------------|-----------:|---------:|---------:|"
pid=$(start 50610 "$tongxin" echo --port 50610 --threads 1); run tongxin 50610 http://127.0.0.1:50610/grpc.testing.TestService/UnaryCall "${grpc_args[@]}"; kill "$pid"
pid=$(start 50620 "$cpp" 50620); run grpc-c++ 50620 http://127.0.0.1:50620/grpc.testing.TestService/UnaryCall "${grpc_args[@]}"; kill "$pid"
pid=$(start 50630 "$grpcswift" 50630); run grpc-swift-2 50630 http://127.0.0.1:50630/grpc.testing.TestService/UnaryCall "${grpc_args[@]}"; kill "$pid"
pid=$(start 50640 nghttpd -d "$results/htdocs" --no-tls 50640); run nghttpd 50640 http://127.0.0.1:50640/small; kill "$pid"

#!/usr/bin/env bash
# The registry over gRPC with a seeded province (500,000 members by default), the server
# pinned to core 0 and every load generator to core 1:
#   echo       the RPC benchmark's echo (tongxin-interop echo, one core), the baseline;
#   GetMember  h2load on one fixed id (as the echo) and `tongxin load` on random ids;
#   search     ListMembers by county subtree + category, 20 per page, random counties;
#   create     durable CreateMember with 64 callers, each request a new valid member;
#   half load  GetMember at half of its peak rate, right after the peak run, open loop (latency
#              from the intended send); then the echo at the same rate, the same way: the
#              machine's floor for that p99;
#   watch      WatchChanges replaying the whole feed from the start, events/s until caught up
#              (read by stock grpcio as raw bytes).
# SQLite: the database file under Benchmarks/results/. PostgreSQL: a throwaway server from
# scripts/postgres.sh (its processes are not pinned: they share both cores with the rest).
# The seeded SQLite file is kept and reused (delete Benchmarks/results/registry-sqlite to
# reseed); PostgreSQL is seeded anew each run.
# Usage: Benchmarks/registry/run.sh [sqlite|postgres] [DURATION] [WARMUP]
#   env: MEMBERS (500000), CREATES (calls of the create run, 100000), BIN (prebuilt release dir),
#        PAUSE_DAMON=1 (a diagnosis, needs root: the kernel's DAMON monitor is switched off for the
#        two open-loop runs and on again after each; on the VMs here it wakes twice a second and holds
#        one of the two cores for ~5 ms, which alone put p99 at 30k calls/s from ~1 ms to 2–4 ms)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
engine="${1:-sqlite}"
duration="${2:-10}"
warmup="${3:-2}"
members="${MEMBERS:-500000}"
creates="${CREATES:-100000}"
results="$root/Benchmarks/results"
data="$results/registry-$engine"
mkdir -p "$data"
python="${TONGXIN_PYTHON:-python3}"
. "$root/Benchmarks/lib.sh"

if [ -z "${BIN:-}" ]; then
    echo "building…" >&2
    for product in tongxin-registry tongxin tongxin-interop; do
        (cd "$root" && swift build -c release --scratch-path .build-bench --product $product >&2)
    done
fi
bin="${BIN:-$root/.build-bench/release}"
tx="$bin/tongxin"

pids=()
damon_states=()  # DAMON monitors this script switched off (PAUSE_DAMON=1), to switch on again
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for state in "${damon_states[@]}"; do echo on > "$state" 2>/dev/null || true; done
    if [ "$engine" = postgres ]; then TONGXIN_PG_STATE="$data/pg.state" "$root/scripts/postgres.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

case "$engine" in
sqlite) database="sqlite:$data/registry.sqlite" ;;
postgres)
    # A fresh throwaway server (scripts/postgres.sh), so the province is seeded every run.
    export TONGXIN_PG_STATE="$data/pg.state"
    rm -f "$data/seeded" "$data/creates-used"
    eval "$("$root/scripts/postgres.sh" start)"
    base="$TONGXIN_TEST_POSTGRES_URL"
    psql "$base" -qtAc "SELECT 1 FROM pg_database WHERE datname = 'tongxin_bench'" | grep -q 1 \
        || psql "$base" -qc "CREATE DATABASE tongxin_bench"
    database="${base%/*}/tongxin_bench"
    ;;
*) echo "usage: $0 [sqlite|postgres] [DURATION] [WARMUP]" >&2; exit 2 ;;
esac

port=50660
addr="127.0.0.1:$port"
start_registry "$bin" $port "$database" "$data/server.log"
pids+=($registry)
wait_serving $port

export_dir="$data/export"
if [ ! -f "$data/seeded" ]; then
    echo "seeding $members members…" >&2
    start=$(date +%s.%N)
    taskset -c 1 "$tx" seed "$addr" --scale province --members "$members" -c 64 \
        --export "$export_dir" --export-creates $((creates * 3)) >&2
    end=$(date +%s.%N)
    echo "$start $end" > "$data/seeded"
    # The runs measure a registry started on the seeded data, as a run that reuses it does:
    # not the process that just made 500,000 members (its heap, its caches), nor the kernel
    # still writing the seeding's pages back.
    kill "$registry" && wait "$registry" || true
    sync
    start_registry "$bin" $port "$database" "$data/server.log"
    pids+=($registry)
    wait_serving $port
fi
seed_seconds=$("$python" -c "import sys; a,b=open(sys.argv[1]).read().split(); print(f'{float(b)-float(a):.0f}')" "$data/seeded")
# Each run creates new members: take the next unused requests from the exported ones.
used=$(cat "$data/creates-used" 2>/dev/null || echo 0)
total_creates=$(wc -l < "$export_dir/create-requests.jsonl")
if [ $((used + creates)) -gt "$total_creates" ]; then
    echo "all exported create requests are used: delete $data to reseed" >&2; exit 1
fi
sed -n "$((used + 1)),$((used + creates))p" "$export_dir/create-requests.jsonl" > "$data/creates.jsonl"
echo $((used + creates)) > "$data/creates-used"
grep -E '^[0-9]{6}$' "$export_dir/region-codes.txt" | grep -vE '00$' > "$data/counties.txt"

# Every registry call runs as a provincial administrator who may see personal data in the
# seeded province (Hubei, 420000); without it each member is decoded, masked and encoded again.
permission='x-tongxin-personal-data-regions: 420000'
load() {  # METHOD [tongxin load args…] → the JSON report on stdout
    local method="$1"; shift
    taskset -c 1 "$tx" load "$addr" "tongxin.registry.v1.RegistryService/$method" --output json -H "$permission" "$@"
}
field() { "$python" -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'r': r}))" "$@"; }
grpc_frame() {  # FILE FIELD1-STRING: a gRPC frame of a message with field 1 = the string
    "$python" - "$1" "$2" <<'PY'
import struct, sys
value = sys.argv[2].encode()
message = b"\x0a" + bytes([len(value)]) + value
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY
}
h2() {  # URL BODY → req/s
    taskset -c 1 h2load -c 10 -m 10 -D "$warmup" -H 'content-type: application/grpc' -H 'te: trailers' -H "$permission" \
        -d "$2" "$1" > /dev/null 2>&1 || true
    taskset -c 1 h2load -c 10 -m 10 -D "$duration" -H 'content-type: application/grpc' -H 'te: trailers' -H "$permission" \
        -d "$2" "$1" 2>&1 | sed -n 's/.* \([0-9.]*\) req\/s.*/\1/p' | head -1
}

# PAUSE_DAMON=1: the kernel's DAMON monitors are switched off for an open-loop run (and on again).
pause_damon() {
    [ "${PAUSE_DAMON:-0}" = 1 ] || return 0
    for state in /sys/kernel/mm/damon/admin/kdamonds/*/state; do
        [ -w "$state" ] && [ "$(cat "$state")" = on ] && echo off > "$state" && damon_states+=("$state")
    done
    echo "DAMON paused for the open-loop run: ${damon_states[*]:-none was on}" >&2
}
resume_damon() {
    for state in "${damon_states[@]}"; do echo on > "$state"; done
    damon_states=()
}

echo "GetMember…" >&2
first_id=$(head -1 "$export_dir/member-ids.txt")
grpc_frame "$data/get.bin" "$first_id"
h2_get=$(h2 "http://$addr/tongxin.registry.v1.RegistryService/GetMember" "$data/get.bin")
load GetMember --template '{"memberId":"{{line:'"$export_dir"'/member-ids.txt}}"}' -c 100 --connections 10 \
    --warmup "${warmup}s" -z "${duration}s" > "$data/get.json"

peak=$(field "$data/get.json" 'r["rate"]')
half=$("$python" -c "print(int(float('$peak') / 2))")
echo "GetMember at $half calls/s…" >&2
pause_damon
load GetMember --template '{"memberId":"{{line:'"$export_dir"'/member-ids.txt}}"}' -c 200 --connections 10 \
    --rps "$half" --warmup "${warmup}s" -z "${duration}s" > "$data/half.json" || status=$?
resume_damon
[ "${status:-0}" = 0 ] || exit "$status"

echo "search…" >&2
load ListMembers -c 64 --connections 4 --warmup "${warmup}s" -z "${duration}s" --template \
    '{"regionCode":"{{line:'"$data"'/counties.txt}}","category":"{{pick:MEMBER_CATEGORY_PRIVATE_ECONOMY|MEMBER_CATEGORY_NON_PARTY_INTELLECTUAL|MEMBER_CATEGORY_RELIGIOUS|MEMBER_CATEGORY_ETHNIC_MINORITY}}","pageSize":20}' \
    > "$data/search.json"

echo "create…" >&2
load CreateMember -c 64 --connections 4 -n "$creates" \
    --template '{{next:'"$data"'/creates.jsonl}}' > "$data/create.json"

echo "WatchChanges…" >&2
# Stock grpcio with raw bytes (no decoding): counts events (field 1) until a message carries
# caught_up (field 3 = true), so the number is the server's, not a JSON printer's.
watch_line=$(taskset -c 1 "$python" - "$addr" <<'PY'
import sys, time, grpc
channel = grpc.insecure_channel(sys.argv[1])
watch = channel.unary_stream("/tongxin.registry.v1.RegistryService/WatchChanges")
start = time.monotonic()
events = 0
permission = (("x-tongxin-personal-data-regions", "420000"),)
for message in watch(b"\x10\x01", timeout=600, metadata=permission):  # replay_retained = true
    if message[:1] == b"\x0a":
        events += 1
    elif message.endswith(b"\x18\x01"):
        break
print(f"{events} {time.monotonic() - start:.2f}")
PY
)
kill $registry 2>/dev/null || true
wait $registry 2>/dev/null || true

echo "echo baseline…" >&2
echo_port=50661
taskset -c 0 "$bin/tongxin-interop" echo --port $echo_port --threads 1 > /dev/null 2>&1 &
pids+=($!)
wait_port $echo_port
echo_request_frame "$data/echo.bin"
h2_echo=$(h2 "http://127.0.0.1:$echo_port/grpc.testing.TestService/UnaryCall" "$data/echo.bin")
taskset -c 1 "$tx" load "127.0.0.1:$echo_port" grpc.testing.TestService/UnaryCall --output json \
    -d "$(echo_request_json)" \
    -c 100 --connections 10 --warmup "${warmup}s" -z "${duration}s" > "$data/echo.json"
# The echo, open loop, at the rate of the GetMember half-load run: the latency floor of this
# machine, server and generator at that rate (what no registry change can get under).
echo "echo at $half calls/s…" >&2
pause_damon
taskset -c 1 "$tx" load "127.0.0.1:$echo_port" grpc.testing.TestService/UnaryCall --output json \
    -d "$(echo_request_json)" -c 200 --connections 10 --rps "$half" \
    --warmup "${warmup}s" -z "${duration}s" > "$data/echo-half.json"
resume_damon

"$python" - "$data" "$engine" "$members" "$seed_seconds" "$h2_echo" "$h2_get" "$watch_line" <<'PY' | tee "$data/results.md"
import json, sys
data, engine, members, seed_seconds, h2_echo, h2_get, watch = sys.argv[1:8]
def report(name):
    return json.load(open(f"{data}/{name}.json"))
def ms(r, p):
    return float(r["latencyMs"][p])
echo, get, search, create, half, echo_half = (
    report(n) for n in ["echo", "get", "search", "create", "half", "echo-half"])
print(f"engine {engine}, {int(members):,} members seeded in {seed_seconds} s; server on core 0, generators on core 1\n")
print("| run | generator | calls/s | p50 ms | p99 ms | errors |")
print("|---|---|---:|---:|---:|---:|")
def row(name, generator, r):
    errors = r["calls"] - r["ok"]
    print(f"| {name} | {generator} | {r['rate']:,.0f} | {ms(r,'p50'):.2f} | {ms(r,'p99'):.2f} | {errors} |")
print(f"| echo | h2load -c10 -m10 | {float(h2_echo):,.0f} | | | |")
row("echo", "tongxin load -c100", echo)
print(f"| GetMember (one id) | h2load -c10 -m10 | {float(h2_get):,.0f} | | | |")
row("GetMember (random ids)", "tongxin load -c100", get)
row("ListMembers county+category", "tongxin load -c64", search)
row("CreateMember (durable)", "tongxin load -c64", create)
row(f"GetMember at half peak ({half['rate']:,.0f}/s)", "tongxin load --rps", half)
row(f"echo at the same rate (the floor)", "tongxin load --rps", echo_half)
events, seconds = watch.split()
print(f"| WatchChanges replay | grpcio (raw) | {int(events)/float(seconds):,.0f} events/s | | | {events} events in {seconds} s |")
print()
print(f"GetMember / echo: h2load {float(h2_get)/float(h2_echo):.2f}, tongxin load {get['rate']/echo['rate']:.2f}")
PY
if [ "${PAUSE_DAMON:-0}" = 1 ]; then
    echo "The kernel's DAMON monitor was switched off for the open-loop runs (PAUSE_DAMON=1)." | tee -a "$data/results.md"
fi

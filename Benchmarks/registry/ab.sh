#!/usr/bin/env bash
# A/B of two registry builds on one copy of the seeded province, alternating, so that a change
# is judged against the machine's drift (the same binary varied by ±10 % within an hour here):
# each round restores the copy, then for build A and then build B runs durable creates at 64
# callers (the same unused requests every time) and GetMember on random ids, server on core 0,
# `tongxin load` (of build A) on core 1, as a caller who may see personal data in the seeded
# province (x-tongxin-personal-data-regions: 420000).
# Also the server's CPU time a create (every thread, user + system, over the create run): on a
# machine whose speed drifts it moves with the rate, but a change in the work a create costs
# shows in it even when the rate hides it behind the generator or the disk.
# Needs a seeded database from `Benchmarks/registry/run.sh sqlite` (its export folder holds the
# member ids and the create requests).
# Usage: Benchmarks/registry/ab.sh BIN_A BIN_B [ROUNDS] [CREATES]
#   BIN_x: a release folder with tongxin-registry (and, for A, tongxin); ROUNDS 3, CREATES 50000
#   env DB_A, DB_B: a folder with another copy of the seeded registry.sqlite for that side (the
#   same province transformed, say VACUUMed with another page size); both default to the copy.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
a="${1:?usage: $0 BIN_A BIN_B [ROUNDS] [CREATES]}"
b="${2:?usage: $0 BIN_A BIN_B [ROUNDS] [CREATES]}"
rounds="${3:-3}"
creates="${4:-50000}"
seeded="$root/Benchmarks/results/registry-sqlite"
export_dir="$seeded/export"
[ -f "$seeded/registry.sqlite" ] && [ -f "$export_dir/member-ids.txt" ] \
    || { echo "no seeded database: run Benchmarks/registry/run.sh sqlite first" >&2; exit 1; }
work="$root/Benchmarks/results/registry-ab"
rm -rf "$work" && mkdir -p "$work/copy"
# The copy: the seeded database as it is now, and requests that no run has used yet.
cp "$seeded"/registry.sqlite* "$work/copy/"
used=$(cat "$seeded/creates-used" 2>/dev/null || echo 0)
sed -n "$((used + 1)),$((used + creates))p" "$export_dir/create-requests.jsonl" > "$work/creates.jsonl"
[ "$(wc -l < "$work/creates.jsonl")" -eq "$creates" ] || { echo "not enough unused create requests: reseed" >&2; exit 1; }
tx="$a/tongxin"
port=50690
python="${TONGXIN_PYTHON:-python3}"
. "$root/Benchmarks/lib.sh"

server=""
trap '[ -n "$server" ] && kill "$server" 2>/dev/null || true' EXIT

rate() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['rate']))" "$1"; }

# The CPU time all threads of process PID have used, in clock ticks (user + system).
cpu_ticks() {  # PID
    cat /proc/"$1"/task/*/stat 2>/dev/null | awk '{sub(/^.*\) /, ""); t += $12 + $13} END {print t}'
}
ticks_per_second=$(getconf CLK_TCK)

one() {  # BIN DB_FOLDER → "creates/s getmember/s server-µs-a-create"
    local bin="$1" db="$2" run="$work/run"
    rm -rf "$run" && mkdir -p "$run"
    cp "$db"/registry.sqlite* "$run/"
    start_registry "$bin" $port "sqlite:$run/registry.sqlite" "$run/server.log"
    server=$registry
    wait_serving $port
    local before after
    before=$(cpu_ticks "$server")
    taskset -c 1 "$tx" load "127.0.0.1:$port" tongxin.registry.v1.RegistryService/CreateMember --output json \
        -H 'x-tongxin-personal-data-regions: 420000' \
        -c 64 --connections 4 -n "$creates" --template "{{next:$work/creates.jsonl}}" > "$run/create.json"
    after=$(cpu_ticks "$server")
    taskset -c 1 "$tx" load "127.0.0.1:$port" tongxin.registry.v1.RegistryService/GetMember --output json \
        -H 'x-tongxin-personal-data-regions: 420000' \
        --template '{"memberId":"{{line:'"$export_dir"'/member-ids.txt}}"}' -c 100 --connections 10 \
        --warmup 2s -z 8s > "$run/get.json"
    kill "$server"; wait "$server" || true; server=""
    echo "$(rate "$run/create.json") $(rate "$run/get.json") $(((after - before) * 1000000 / ticks_per_second / creates))"
}

echo "| round | A creates/s | B creates/s | A GetMember/s | B GetMember/s | A server µs a create | B server µs a create |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
results=()
for round in $(seq "$rounds"); do
    read -r ca ga ua <<< "$(one "$a" "${DB_A:-$work/copy}")"
    read -r cb gb ub <<< "$(one "$b" "${DB_B:-$work/copy}")"
    echo "| $round | $ca | $cb | $ga | $gb | $ua | $ub |"
    results+=("$ca $cb $ga $gb $ua $ub")
done
printf '%s\n' "${results[@]}" | python3 -c "
import statistics, sys
rows = [list(map(float, line.split())) for line in sys.stdin if line.strip()]
ratio = lambda i, j: statistics.median(r[j] / r[i] for r in rows)
print(f'\nB/A, median of rounds: creates {ratio(0, 1):.3f}, GetMember {ratio(2, 3):.3f}, '
      f'server CPU a create {ratio(4, 5):.3f}')"

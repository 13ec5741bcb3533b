#!/usr/bin/env bash
# Builds the suite (release) and starts tongxin-registry on its embedded SQLite database in
# ./data: gRPC on 127.0.0.1:50051, admin HTTP (/metrics, /healthz, /readyz) on 127.0.0.1:9464.
# When the database is empty it seeds a small demo province (Hubei) with `tongxin seed`.
# Ctrl-C (SIGINT) or SIGTERM shuts the registry down gracefully. Flags after the command go to
# the registry (see `.build/release/tongxin-registry --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product tongxin
swift build -c release --product tongxin-registry
T=.build/release/tongxin
ADDR=${TONGXIN_LISTEN:-127.0.0.1:50051}

.build/release/tongxin-registry --listen "$ADDR" "$@" &
registry=$!
trap 'kill -TERM $registry 2>/dev/null; wait $registry' INT TERM
for _ in $(seq 1 100); do
  $T health "$ADDR" --deadline 1s >/dev/null 2>&1 && break
  kill -0 $registry 2>/dev/null || { wait $registry; exit 1; }
  sleep 0.2
done
if $T call "$ADDR" tongxin.registry.v1.RegistryService/GetRegion -d '{"code":"420000"}' >/dev/null 2>&1; then
  echo "run: the database already holds the demo province; not seeding"
else
  $T seed "$ADDR"
fi
echo "run: tongxin-registry serves $ADDR — try: $T list $ADDR"
wait $registry

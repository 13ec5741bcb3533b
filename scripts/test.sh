#!/usr/bin/env bash
# Runs every test of the suite on a fresh machine: installs what is missing, checks that the
# generated code matches Protos/, builds, and runs `swift test` (unit, integration against real
# sockets, and interop with Python's grpcio).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
Tools/generate.sh --check
export TONGXIN_PYTHON="$PWD/.venv/bin/python"
swift build --build-tests
# A throwaway PostgreSQL for the storage tests (which fail, never skip, without it); stopped
# on every exit, failed or not.
export TONGXIN_PG_STATE="$(mktemp -u /tmp/tongxin-postgres.XXXXXX.state)"
trap 'scripts/postgres.sh stop' EXIT
eval "$(scripts/postgres.sh start)"
swift test --skip-build "$@"

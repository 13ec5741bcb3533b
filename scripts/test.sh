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
swift test --skip-build "$@"

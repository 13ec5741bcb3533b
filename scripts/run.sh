#!/usr/bin/env bash
# Builds the suite (release) and starts tongxin-registry on its embedded SQLite database in
# ./data: gRPC on 127.0.0.1:50051, admin HTTP (/metrics, /healthz, /readyz) on 127.0.0.1:9464.
# Ctrl-C (SIGINT) or SIGTERM shuts it down gracefully. Flags after the command go to the
# registry (see `.build/release/tongxin-registry --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
swift build -c release --product tongxin
swift build -c release --product tongxin-registry
echo "try: .build/release/tongxin list 127.0.0.1:50051"
exec .build/release/tongxin-registry "$@"

#!/usr/bin/env bash
# Installs what the suite needs on a fresh Debian machine of this kind and is idempotent:
#   apt: libnghttp2 and libprotobuf-c headers, protoc and protoc-c, the standard gRPC protos,
#        zlib, the nghttp2 tools (h2load, nghttp, nghttpd), PostgreSQL for the storage tests;
#   .venv: Python's grpcio, grpcio-tools, grpcio-health-checking, grpcio-reflection, protobuf —
#        the reference gRPC peer of the interop tests and the protobuf the generator uses.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libprotobuf-dev grpc-proto
  zlib1g-dev nghttp2-client nghttp2-server python3-venv
  protobuf-compiler-grpc libgrpc++-dev g++ pkg-config
  libsqlite3-dev postgresql
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY_PACKAGES=(grpcio grpcio-tools grpcio-health-checking grpcio-reflection protobuf)
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import grpc, grpc_tools, grpc_health, grpc_reflection, google.protobuf" 2>/dev/null; then
  echo "bootstrap: creating .venv with ${PY_PACKAGES[*]}"
  python3 -m venv --clear .venv   # --clear: a half-made venv from an interrupted run is rebuilt
  .venv/bin/pip install -q --disable-pip-version-check "${PY_PACKAGES[@]}"
fi

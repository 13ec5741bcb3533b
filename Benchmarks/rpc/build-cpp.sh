#!/usr/bin/env bash
# Builds the gRPC C++ callback echo server (Debian libgrpc++-dev, protobuf-compiler-grpc).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/.build-cpp}"
mkdir -p "$out/gen"
protos=(grpc/testing/empty.proto grpc/testing/messages.proto grpc/testing/test.proto)
protoc -I/usr/share/grpc-proto --cpp_out="$out/gen" --grpc_out="$out/gen" \
  --plugin=protoc-gen-grpc="$(command -v grpc_cpp_plugin)" "${protos[@]}"
g++ -O2 -std=c++17 -I"$out/gen" "$here/cpp/echo_server.cc" \
  "$out"/gen/grpc/testing/*.pb.cc \
  $(pkg-config --cflags --libs grpc++ protobuf) -o "$out/echo_server"
echo "$out/echo_server"

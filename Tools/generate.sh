#!/usr/bin/env bash
# Regenerates all generated code from Protos/ and the standard protos:
#   Shared/CTongxinProtos/generated/   protoc-c output (C structs and descriptors)
#   Shared/CTongxinProtos/tables.c     the descriptor table and the embedded descriptor blob
#   Shared/Model/Generated/            the Swift model (Tools/protogen/protogen.py)
# Needs protoc, protoc-c (Debian: protobuf-compiler, protobuf-c-compiler), grpc-proto and a
# Python with the protobuf package (PYTHON, default .venv/bin/python).
# With --check it regenerates into a temporary copy and fails if the committed output differs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
GRPC_PROTOS=/usr/share/grpc-proto
STD_PROTOS=/usr/include

# The standard protos the suite serves or uses, from Debian's grpc-proto and libprotobuf-dev.
STANDARD=(
  grpc/health/v1/health.proto
  grpc/reflection/v1/reflection.proto
  grpc/reflection/v1alpha/reflection.proto
  grpc/testing/test.proto
  grpc/testing/messages.proto
  grpc/testing/empty.proto
  google/protobuf/descriptor.proto
  google/protobuf/timestamp.proto
  google/protobuf/duration.proto
  google/protobuf/wrappers.proto
  google/protobuf/field_mask.proto
  google/protobuf/any.proto
  google/protobuf/empty.proto
)
mapfile -t PROJECT < <(cd Protos && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/c" "$work/swift"
INCLUDES=(-I"$ROOT/Protos" -I"$GRPC_PROTOS" -I"$STD_PROTOS")

protoc "${INCLUDES[@]}" --c_out="$work/c" "${PROJECT[@]}" "${STANDARD[@]}"
protoc "${INCLUDES[@]}" --include_imports --include_source_info \
  --descriptor_set_out="$work/set.pb" "${PROJECT[@]}" "${STANDARD[@]}"
"$PYTHON" Tools/protogen/protogen.py "$work/set.pb" "$work/c" "$work/swift" "$work/tables.c"

if [ "${1:-}" = "--check" ]; then
  status=0
  diff -r -q "$work/c" Shared/CTongxinProtos/generated || status=1
  diff -r -q "$work/swift" Shared/Model/Generated || status=1
  cmp -s "$work/tables.c" Shared/CTongxinProtos/tables.c || { echo "Shared/CTongxinProtos/tables.c differs"; status=1; }
  if [ $status -ne 0 ]; then
    echo "generated code is stale: run Tools/generate.sh and commit the result" >&2
  else
    echo "generated code is up to date"
  fi
  exit $status
fi

rm -rf Shared/CTongxinProtos/generated Shared/Model/Generated
mkdir -p Shared/Model
cp -r "$work/c" Shared/CTongxinProtos/generated
cp -r "$work/swift" Shared/Model/Generated
cp "$work/tables.c" Shared/CTongxinProtos/tables.c
echo "generated $(find Shared/CTongxinProtos/generated -name '*.pb-c.c' | wc -l) protoc-c files and $(ls Shared/Model/Generated | wc -l) Swift files"

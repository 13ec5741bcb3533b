# Shared by the benchmark scripts (sourced): the echo request every run sends, and waiting for
# a server's port. Needs $python.

# grpc.testing.SimpleRequest{payload{body: 100 × 'x'}}, framed as one gRPC message, into FILE
# (for h2load -d).
echo_request_frame() {
    "$python" - "$1" <<'PY'
import struct, sys
inner = b"\x12" + bytes([100]) + b"x" * 100
message = b"\x1a" + bytes([len(inner)]) + inner
open(sys.argv[1], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
PY
}

# The same request as JSON (for tongxin load -d).
echo_request_json() {
    echo '{"payload":{"body":"'"$(head -c 100 /dev/zero | tr '\0' 'x' | base64 -w0)"'"}}'
}

# Waits until 127.0.0.1:PORT accepts connections (at most 60 s); fails otherwise.
wait_port() {
    for _ in $(seq 600); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# Starts BIN/tongxin-registry pinned to core 0 with one event loop, on 127.0.0.1:PORT and
# DATABASE, logging warnings to LOG; sets $registry to its pid (for the caller's cleanup).
start_registry() {  # BIN PORT DATABASE LOG
    taskset -c 0 "$1/tongxin-registry" --listen "127.0.0.1:$2" --database "$3" --admin-listen off --threads 1 \
        --log-level warning > "$4" 2>&1 &
    registry=$!
}

# Waits until the server at 127.0.0.1:PORT says SERVING (its database open and migrated), at
# most 120 s; fails otherwise. Needs $tx (a tongxin binary).
wait_serving() {  # PORT
    for _ in $(seq 600); do "$tx" health "127.0.0.1:$1" > /dev/null 2>&1 && return 0; sleep 0.2; done
    echo "the server on port $1 did not become SERVING" >&2
    return 1
}

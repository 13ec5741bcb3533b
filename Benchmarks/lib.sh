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

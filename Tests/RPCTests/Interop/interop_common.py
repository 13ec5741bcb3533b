"""Shared setup for the Python side of the interop tests: generates grpc.testing stubs with
grpc_tools from Debian's grpc-proto into a temp dir and imports them."""
import os
import sys
import tempfile

GRPC_PROTOS = os.environ.get("GRPC_PROTOS", "/usr/share/grpc-proto")


def load_stubs():
    from grpc_tools import protoc
    import grpc_tools

    out = tempfile.mkdtemp(prefix="tongxin-interop-py-")
    include = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    protos = ["grpc/testing/empty.proto", "grpc/testing/messages.proto", "grpc/testing/test.proto"]
    code = protoc.main(["protoc", f"-I{GRPC_PROTOS}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}"] + protos)
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    # The generated modules live in package grpc.testing, which the installed grpc package
    # shadows: flatten them into one directory and fix their imports.
    generated = os.path.join(out, "grpc", "testing")
    for name in os.listdir(generated):
        if name.endswith(".py"):
            path = os.path.join(generated, name)
            with open(path) as f:
                text = f.read()
            text = text.replace("from grpc.testing import", "import")
            with open(os.path.join(out, name), "w") as f:
                f.write(text)
    sys.path.insert(0, out)
    import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

    return empty_pb2, messages_pb2, test_pb2_grpc

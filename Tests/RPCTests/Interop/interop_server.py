"""grpc.testing.TestService on grpcio, for our client's interop cases.
Usage: interop_server.py PORT  (prints 'listening on N' once ready)."""
import os
import sys
import time
from concurrent import futures

import grpc

from interop_common import load_stubs

empty_pb2, messages_pb2, test_pb2_grpc = load_stubs()


def echo_metadata(context):
    md = dict(context.invocation_metadata())
    if "x-grpc-test-echo-initial" in md:
        context.send_initial_metadata((("x-grpc-test-echo-initial", md["x-grpc-test-echo-initial"]),))
    if "x-grpc-test-echo-trailing-bin" in md:
        context.set_trailing_metadata((("x-grpc-test-echo-trailing-bin", md["x-grpc-test-echo-trailing-bin"]),))



def payload(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


class TestService(test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        return empty_pb2.Empty()

    def UnaryCall(self, request, context):
        echo_metadata(context)
        if request.HasField("response_status") and request.response_status.code != 0:
            code = next(c for c in grpc.StatusCode if c.value[0] == request.response_status.code)
            context.abort(code, request.response_status.message)
        if request.response_compressed.value:
            context.set_compression(grpc.Compression.Gzip)
        return messages_pb2.SimpleResponse(payload=payload(request.response_size))

    def StreamingOutputCall(self, request, context):
        echo_metadata(context)
        for parameters in request.response_parameters:
            if parameters.interval_us:
                time.sleep(parameters.interval_us / 1e6)
            if parameters.compressed.value:
                context.set_compression(grpc.Compression.Gzip)
            yield messages_pb2.StreamingOutputCallResponse(payload=payload(parameters.size))

    def StreamingInputCall(self, request_iterator, context):
        echo_metadata(context)
        total = sum(len(r.payload.body) for r in request_iterator)
        return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

    def FullDuplexCall(self, request_iterator, context):
        echo_metadata(context)
        for request in request_iterator:
            if request.HasField("response_status") and request.response_status.code != 0:
                code = next(c for c in grpc.StatusCode if c.value[0] == request.response_status.code)
                context.abort(code, request.response_status.message)
            for parameters in request.response_parameters:
                if parameters.interval_us:
                    time.sleep(parameters.interval_us / 1e6)
                yield messages_pb2.StreamingOutputCallResponse(payload=payload(parameters.size))

    def HalfDuplexCall(self, request_iterator, context):
        requests = list(request_iterator)
        for request in requests:
            for parameters in request.response_parameters:
                yield messages_pb2.StreamingOutputCallResponse(payload=payload(parameters.size))


def main():
    import signal
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)
    port = server.add_insecure_port(f"127.0.0.1:{int(sys.argv[1]) if len(sys.argv) > 1 else 0}")
    server.start()
    print(f"listening on {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()

"""The interop client cases on grpcio, run against our server.
Usage: interop_client.py HOST:PORT CASE   (exit 0 and 'PASS CASE' on success)."""
import sys
import threading

import grpc

from interop_common import load_stubs

empty_pb2, messages_pb2, test_pb2_grpc = load_stubs()
BMP = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"


def payload(size):
    return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\x00" * size)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


def expect_code(code, fn, message=None):
    try:
        fn()
    except grpc.RpcError as error:
        expect(error.code() == code, f"expected {code}, got {error.code()}: {error.details()}")
        if message is not None:
            expect(error.details() == message, f"expected message {message!r}, got {error.details()!r}")
        return
    raise AssertionError(f"expected {code}, but the call succeeded")


def streaming_request(size, payload_size, status=None):
    request = messages_pb2.StreamingOutputCallRequest(
        response_type=messages_pb2.COMPRESSABLE,
        response_parameters=[messages_pb2.ResponseParameters(size=size)],
        payload=payload(payload_size))
    if status is not None:
        request.response_status.CopyFrom(status)
    return request


def empty_unary(stub):
    expect(stub.EmptyCall(empty_pb2.Empty()) == empty_pb2.Empty(), "empty response")


def large_unary(stub):
    response = stub.UnaryCall(messages_pb2.SimpleRequest(response_type=messages_pb2.COMPRESSABLE, response_size=314159, payload=payload(271828)))
    expect(len(response.payload.body) == 314159 and response.payload.body == b"\x00" * 314159, "payload")


def client_compressed_unary(stub):
    probe = messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828), expect_compressed=messages_pb2.BoolValue(value=True))
    expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.UnaryCall(probe))
    response = stub.UnaryCall(probe, compression=grpc.Compression.Gzip)
    expect(len(response.payload.body) == 314159, "compressed payload")
    plain = messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828), expect_compressed=messages_pb2.BoolValue(value=False))
    expect(len(stub.UnaryCall(plain).payload.body) == 314159, "plain payload")


def server_compressed_unary(stub):
    for compressed in (True, False):
        request = messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828), response_compressed=messages_pb2.BoolValue(value=compressed))
        expect(len(stub.UnaryCall(request).payload.body) == 314159, f"payload (compressed={compressed})")


def client_streaming(stub):
    response = stub.StreamingInputCall(iter([messages_pb2.StreamingInputCallRequest(payload=payload(s)) for s in (27182, 8, 1828, 45904)]))
    expect(response.aggregated_payload_size == 74922, f"aggregated {response.aggregated_payload_size}")


def client_compressed_streaming(stub):
    probe = messages_pb2.StreamingInputCallRequest(payload=payload(27182), expect_compressed=messages_pb2.BoolValue(value=True))
    expect_code(grpc.StatusCode.INVALID_ARGUMENT, lambda: stub.StreamingInputCall(iter([probe])))
    requests = [probe, messages_pb2.StreamingInputCallRequest(payload=payload(45904), expect_compressed=messages_pb2.BoolValue(value=False))]
    response = stub.StreamingInputCall(iter(requests), compression=grpc.Compression.Gzip)
    expect(response.aggregated_payload_size == 73086, f"aggregated {response.aggregated_payload_size}")


def server_streaming(stub):
    sizes = [31415, 9, 2653, 58979]
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[messages_pb2.ResponseParameters(size=s) for s in sizes])
    expect([len(r.payload.body) for r in stub.StreamingOutputCall(request)] == sizes, "sizes")


def server_compressed_streaming(stub):
    request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
        messages_pb2.ResponseParameters(size=31415, compressed=messages_pb2.BoolValue(value=True)),
        messages_pb2.ResponseParameters(size=92653, compressed=messages_pb2.BoolValue(value=False))])
    expect([len(r.payload.body) for r in stub.StreamingOutputCall(request)] == [31415, 92653], "sizes")


class Pipe:
    def __init__(self):
        self.items = []
        self.cv = threading.Condition()
        self.closed = False

    def add(self, item):
        with self.cv:
            self.items.append(item)
            self.cv.notify()

    def close(self):
        with self.cv:
            self.closed = True
            self.cv.notify()

    def __iter__(self):
        return self

    def __next__(self):
        with self.cv:
            while not self.items and not self.closed:
                self.cv.wait()
            if self.items:
                return self.items.pop(0)
            raise StopIteration


def ping_pong(stub):
    pipe = Pipe()
    responses = stub.FullDuplexCall(pipe)
    for size, payload_size in ((31415, 27182), (9, 8), (2653, 1828), (58979, 45904)):
        pipe.add(streaming_request(size, payload_size))
        expect(len(next(responses).payload.body) == size, f"response size for {size}")
    pipe.close()
    expect(next(responses, None) is None, "end of stream")


def empty_stream(stub):
    expect(list(stub.FullDuplexCall(iter([]))) == [], "no responses")


def custom_metadata(stub):
    metadata = (("x-grpc-test-echo-initial", "test_initial_metadata_value"), ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab"))
    request = messages_pb2.SimpleRequest(response_size=314159, payload=payload(271828))
    response, call = stub.UnaryCall.with_call(request, metadata=metadata)
    expect(("x-grpc-test-echo-initial", "test_initial_metadata_value") in call.initial_metadata(), f"initial {call.initial_metadata()}")
    expect(("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab") in call.trailing_metadata(), f"trailing {call.trailing_metadata()}")
    call = stub.FullDuplexCall(iter([streaming_request(314159, 271828)]), metadata=metadata)
    expect(("x-grpc-test-echo-initial", "test_initial_metadata_value") in call.initial_metadata(), "stream initial")
    list(call)
    expect(("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab") in call.trailing_metadata(), "stream trailing")


def _status_case(stub, message):
    status = messages_pb2.EchoStatus(code=2, message=message)
    expect_code(grpc.StatusCode.UNKNOWN, lambda: stub.UnaryCall(messages_pb2.SimpleRequest(response_status=status)), message)
    expect_code(grpc.StatusCode.UNKNOWN, lambda: list(stub.FullDuplexCall(iter([messages_pb2.StreamingOutputCallRequest(response_status=status)]))), message)


def status_code_and_message(stub):
    _status_case(stub, "test status message")


def special_status_message(stub):
    _status_case(stub, BMP)


def unimplemented_method(stub):
    expect_code(grpc.StatusCode.UNIMPLEMENTED, lambda: stub.UnimplementedCall(empty_pb2.Empty()))


def unimplemented_service(stub, channel):
    other = test_pb2_grpc.UnimplementedServiceStub(channel)
    expect_code(grpc.StatusCode.UNIMPLEMENTED, lambda: other.UnimplementedCall(empty_pb2.Empty()))


def cancel_after_begin(stub):
    pipe = Pipe()
    future = stub.StreamingInputCall.future(pipe)
    future.cancel()
    expect(future.cancelled() and future.code() == grpc.StatusCode.CANCELLED, f"expected CANCELLED, got {future.code()}")


def cancel_after_first_response(stub):
    pipe = Pipe()
    responses = stub.FullDuplexCall(pipe)
    pipe.add(streaming_request(31415, 27182))
    expect(len(next(responses).payload.body) == 31415, "first response")
    responses.cancel()
    expect_code(grpc.StatusCode.CANCELLED, lambda: next(responses))


def timeout_on_sleeping_server(stub):
    pipe = Pipe()
    responses = stub.FullDuplexCall(pipe, timeout=0.001)
    pipe.add(streaming_request(31415, 27182))
    expect_code(grpc.StatusCode.DEADLINE_EXCEEDED, lambda: list(responses))


CASES = {name: fn for name, fn in globals().items() if callable(fn) and not name.startswith("_") and name not in (
    "payload", "expect", "expect_code", "streaming_request", "load_stubs", "main", "Pipe")}


def main():
    target, case = sys.argv[1], sys.argv[2]
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = test_pb2_grpc.TestServiceStub(channel)
        fn = CASES[case]
        if case == "unimplemented_service":
            fn(stub, channel)
        else:
            fn(stub)
    print(f"PASS {case}")


if __name__ == "__main__":
    main()

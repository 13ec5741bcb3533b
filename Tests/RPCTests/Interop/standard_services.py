#!/usr/bin/env python3
"""Stock grpcio clients against our health and reflection services.
usage: standard_services.py HOST:PORT   (prints PASS and exits 0 when every check holds)"""
import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from google.protobuf.descriptor_pool import DescriptorPool


def check(condition, what):
    if not condition:
        print("FAIL", what)
        sys.exit(1)


def main():
    channel = grpc.insecure_channel(sys.argv[1])
    grpc.channel_ready_future(channel).result(timeout=10)

    health = health_pb2_grpc.HealthStub(channel)
    check(health.Check(health_pb2.HealthCheckRequest(service="")).status == health_pb2.HealthCheckResponse.SERVING,
          "server is SERVING")
    check(health.Check(health_pb2.HealthCheckRequest(service="grpc.testing.TestService")).status
          == health_pb2.HealthCheckResponse.SERVING, "TestService is SERVING")
    try:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"))
        check(False, "unknown service is NOT_FOUND")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.NOT_FOUND, "unknown service is NOT_FOUND, got %s" % e.code())
    watch = health.Watch(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
    check(next(watch).status == health_pb2.HealthCheckResponse.SERVICE_UNKNOWN, "Watch of unknown service says SERVICE_UNKNOWN")
    watch.cancel()

    db = ProtoReflectionDescriptorDatabase(channel)
    services = db.get_services()
    for name in ["grpc.testing.TestService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                 "grpc.reflection.v1alpha.ServerReflection"]:
        check(name in services, "%s listed (got %s)" % (name, services))
    pool = DescriptorPool(db)
    registry = pool.FindServiceByName("tongxin.registry.v1.RegistryService")
    get_member = registry.FindMethodByName("GetMember")
    check(get_member.input_type.full_name == "tongxin.registry.v1.GetMemberRequest", "GetMember input type")
    watch_changes = registry.FindMethodByName("WatchChanges")
    check(watch_changes.server_streaming and not watch_changes.client_streaming, "WatchChanges is server-streaming")
    member = pool.FindMessageTypeByName("tongxin.registry.v1.Member")
    check("resident_id_number" in member.fields_by_name, "Member.resident_id_number")
    check(pool.FindMessageTypeByName("grpc.testing.SimpleRequest").fields_by_name["payload"].message_type.full_name
          == "grpc.testing.Payload", "grpc.testing.SimpleRequest.payload")
    try:
        pool.FindMessageTypeByName("no.such.Message")
        check(False, "unknown symbol raises")
    except KeyError:
        pass

    # v1 speaks the same messages on another path
    v1 = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                               request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                               response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    answers = list(v1(iter([reflection_pb2.ServerReflectionRequest(host="h", list_services=""),
                            reflection_pb2.ServerReflectionRequest(file_by_filename="tongxin/registry/v1/registry_service.proto"),
                            reflection_pb2.ServerReflectionRequest(file_containing_symbol="no.Such")]), timeout=10))
    check(len(answers) == 3, "three answers")
    check(answers[0].valid_host == "h" and answers[0].original_request.host == "h", "valid_host and original_request echo")
    check("grpc.testing.TestService" in [s.name for s in answers[0].list_services_response.service], "v1 list")
    check(len(answers[1].file_descriptor_response.file_descriptor_proto) >= 2, "file with its dependencies")
    check(answers[2].error_response.error_code == grpc.StatusCode.NOT_FOUND.value[0], "v1 unknown symbol NOT_FOUND")
    print("PASS")


if __name__ == "__main__":
    main()

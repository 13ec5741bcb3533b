#!/usr/bin/env python3
"""Byte compatibility of the Swift model with Python's protobuf (the reference implementation).

The same cases are built here and in Tests/ModelTests/WireCompatibilityTests.swift.
  wire_compat.py encode         prints {"case": "hex of Python's encoding", ...} as JSON
  wire_compat.py check FILE     reads {"case": "hex of Swift's encoding"}, parses each with
                                Python and compares with Python's own message; prints one line
                                per mismatch and exits 1 if there is any
Python modules for the protos are generated into a temporary folder with grpcio-tools.
"""
import json
import os
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def load_modules():
    import grpc_tools
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="wire_compat_")
    std = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    project = []
    for base, _, names in os.walk(os.path.join(ROOT, "Protos")):
        for n in names:
            if n.endswith(".proto"):
                project.append(os.path.relpath(os.path.join(base, n), os.path.join(ROOT, "Protos")))
    files = sorted(p for p in project if not p.startswith("google/rpc/")) + [
        "grpc/testing/messages.proto", "grpc/testing/empty.proto",
        "grpc/reflection/v1/reflection.proto", "grpc/health/v1/health.proto",
    ]
    args = ["protoc", "-I" + os.path.join(ROOT, "Protos"), "-I/usr/share/grpc-proto", "-I" + std,
            "--python_out=" + out] + files
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    sys.path.insert(0, out)
    return out


OUT = None


def module(rel):
    """Loads a generated module by file: grpcio owns the `grpc` package name in this venv."""
    import importlib.util
    name = "wire_compat_" + rel.replace("/", "_")[:-3]
    spec = importlib.util.spec_from_file_location(name, os.path.join(OUT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cases():
    from google.protobuf import descriptor_pb2, timestamp_pb2
    m = module("grpc/testing/messages_pb2.py")
    r = module("grpc/reflection/v1/reflection_pb2.py")

    c = {}
    c["chinese_text_nested"] = m.SimpleRequest(
        response_size=31415, payload=m.Payload(body=bytes(range(256))), fill_username=True,
        response_status=m.EchoStatus(code=16, message="同心聚力·共同缔造 🌾 乡村振兴"))
    c["unknown_enum_value"] = m.Payload(type=7777, body=b"")
    c["int64_extremes_timestamp_min"] = timestamp_pb2.Timestamp(seconds=-(2 ** 63), nanos=999999999)
    c["int64_extremes_timestamp_max"] = timestamp_pb2.Timestamp(seconds=2 ** 63 - 1, nanos=-1)
    c["proto2_optional_extremes"] = descriptor_pb2.UninterpretedOption(
        name=[descriptor_pb2.UninterpretedOption.NamePart(name_part="统战", is_extension=False)],
        identifier_value="同心", positive_int_value=2 ** 64 - 1, negative_int_value=-(2 ** 63),
        double_value=-0.5, string_value=b"\x00\xff", aggregate_value="")
    c["empty_repeated"] = m.StreamingOutputCallRequest()
    c["long_repeated"] = m.StreamingOutputCallRequest(
        response_parameters=[m.ResponseParameters(size=i, interval_us=i * 2) for i in range(1000)])
    c["long_repeated_strings"] = r.ListServiceResponse(
        service=[r.ServiceResponse(name="服务.%d" % i) for i in range(500)])
    c["oneof_file_by_filename"] = r.ServerReflectionRequest(host="h", file_by_filename="a.proto")
    c["oneof_file_containing_symbol"] = r.ServerReflectionRequest(file_containing_symbol="tongxin.X")
    c["oneof_file_containing_extension"] = r.ServerReflectionRequest(
        file_containing_extension=r.ExtensionRequest(containing_type="T", extension_number=5))
    c["oneof_all_extension_numbers_of_type"] = r.ServerReflectionRequest(all_extension_numbers_of_type="T")
    c["oneof_list_services_empty_string"] = r.ServerReflectionRequest(list_services="")
    c["oneof_none"] = r.ServerReflectionRequest(host="only-host")
    c["oneof_file_descriptor_response"] = r.ServerReflectionResponse(
        valid_host="v", file_descriptor_response=r.FileDescriptorResponse(file_descriptor_proto=[b"\x0a\x03abc", b""]))
    c["oneof_all_extension_numbers_response"] = r.ServerReflectionResponse(
        all_extension_numbers_response=r.ExtensionNumberResponse(base_type_name="B", extension_number=[1, 2 ** 31 - 1]))
    c["oneof_list_services_response"] = r.ServerReflectionResponse(
        list_services_response=r.ListServiceResponse(service=[r.ServiceResponse(name="a")]))
    c["oneof_error_response"] = r.ServerReflectionResponse(
        error_response=r.ErrorResponse(error_code=5, error_message="未找到"))
    c["oneof_empty_message_case"] = r.ServerReflectionResponse(list_services_response=r.ListServiceResponse())
    c["maps"] = m.LoadBalancerStatsResponse(
        rpcs_by_peer={"a": 1, "b": 2}, num_failures=3,
        rpcs_by_method={"m": m.LoadBalancerStatsResponse.RpcsByPeer(rpcs_by_peer={"p": 4})})
    c.update(suite_cases())
    return c


def suite_cases():
    """Cases on the suite's own contracts (twins in Tests/ModelTests/SuiteWireCases.swift)."""
    from google.protobuf import timestamp_pb2
    reg = module("tongxin/registry/v1/registry_pb2.py")
    common = module("tongxin/common/v1/common_pb2.py")
    member = reg.Member(
        id="m-0001", region_code="420106001001", category=reg.MEMBER_CATEGORY_PRIVATE_ECONOMY,
        additional_categories=[reg.MEMBER_CATEGORY_OVERSEAS_STUDENT, 99], status=reg.MEMBER_STATUS_ACTIVE,
        name="张三丰", gender=reg.GENDER_MALE, birth_date=common.Date(year=1965, month=2, day=28),
        ethnicity_code="01", resident_id_number="11010519491231002X", mobile="13800138000",
        native_place=reg.NativePlace(region_code="420100", place_name="湖北省武汉市"),
        industry_code="C2710", industry_name="医药制造业", specialties=["中医", "法律咨询", "电商运营"],
        employer="武汉同心医药有限公司", political_posts=[], version=2 ** 63 - 1)
    change = reg.ChangeEvent(
        sequence=2 ** 63 - 1, change_kind=-1, entity_id="m-0001", region_code="420106",
        change_time=timestamp_pb2.Timestamp(seconds=1795000000, nanos=5),
        changed_paths=["name"] * 100, member=member)
    return {
        "registry_member_chinese": member,
        "registry_change_event_nested": change,
        "registry_member_empty": reg.Member(),
    }


def main():
    global OUT
    OUT = load_modules()
    c = cases()
    if sys.argv[1:] == ["encode"]:
        print(json.dumps({k: v.SerializeToString().hex() for k, v in sorted(c.items())}))
        return
    if sys.argv[1:] == ["json-encode"]:
        from google.protobuf import json_format
        out = {}
        for k, v in sorted(c.items()):
            try:
                out[k] = json_format.MessageToJson(v, indent=None)
            except Exception:  # not representable in JSON (e.g. a Timestamp before year 1)
                out[k] = None
        print(json.dumps(out))
        return
    if len(sys.argv) == 3 and sys.argv[1] == "json-check":
        from google.protobuf import json_format
        with open(sys.argv[2]) as fh:
            swift = json.load(fh)
        bad = 0
        for name, text in sorted(swift.items()):
            parsed = type(c[name])()
            try:
                json_format.Parse(text, parsed)
            except Exception as e:
                print("%s: Python cannot parse Swift's JSON %s: %s" % (name, text[:200], e))
                bad += 1
                continue
            if parsed != c[name]:
                print("%s: Swift's JSON %s parses to %r, expected %r" % (name, text[:300], parsed, c[name]))
                bad += 1
        sys.exit(1 if bad else 0)
    if len(sys.argv) == 3 and sys.argv[1] == "check":
        with open(sys.argv[2]) as fh:
            swift = json.load(fh)
        bad = 0
        for name, hexed in sorted(swift.items()):
            if name not in c:
                print("%s: no such case in wire_compat.py" % name)
                bad += 1
                continue
            parsed = type(c[name])()
            parsed.ParseFromString(bytes.fromhex(hexed))
            if parsed != c[name]:
                print("%s: Swift's bytes parse to %r, expected %r" % (name, parsed, c[name]))
                bad += 1
        missing = set(c) - set(swift)
        for name in sorted(missing):
            print("%s: Swift did not send this case" % name)
        sys.exit(1 if bad or missing else 0)
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main()

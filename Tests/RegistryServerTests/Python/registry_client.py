#!/usr/bin/env python3
"""A stock grpcio client, with code generated from Protos/, against a running tongxin-registry:
creates, reads, searches and watches members. usage: registry_client.py HOST:PORT
Prints PASS and exits 0 when every check holds."""
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def generate():
    import grpc_tools
    out = tempfile.mkdtemp(prefix="registry_client_")
    std = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    files = ["tongxin/common/v1/common.proto", "tongxin/registry/v1/registry.proto",
             "tongxin/registry/v1/registry_service.proto", "google/rpc/status.proto", "google/rpc/error_details.proto"]
    if protoc.main(["protoc", "-I" + os.path.join(ROOT, "Protos"), "-I" + std, "--python_out=" + out,
                    "--grpc_python_out=" + out] + files) != 0:
        raise SystemExit("protoc failed")
    sys.path.insert(0, out)


def check(condition, what):
    if not condition:
        print("FAIL", what)
        sys.exit(1)


def id_number(region, birth, sequence):
    body = "%s%s%03d" % (region, birth, sequence)
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


def details(error):
    from google.rpc import status_pb2, error_details_pb2
    for key, value in error.trailing_metadata() or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            out = {}
            for any_ in status.details:
                for cls in (error_details_pb2.BadRequest, error_details_pb2.ErrorInfo):
                    if any_.Is(cls.DESCRIPTOR):
                        message = cls()
                        any_.Unpack(message)
                        out[cls.__name__] = message
            return out
    return {}


def denied(call, what, reason, mentioning=""):
    """Checks that call() fails with PERMISSION_DENIED, ErrorInfo.reason `reason`, and a message
    containing `mentioning`."""
    try:
        call()
        check(False, what + " is refused")
    except grpc.RpcError as e:
        info = details(e).get("ErrorInfo")
        check(e.code() == grpc.StatusCode.PERMISSION_DENIED and info is not None and info.reason == reason
              and mentioning in e.details(), "%s: PERMISSION_DENIED %s, got %s %s" % (what, reason, e.code(), e.details()))


def main():
    generate()
    from tongxin.registry.v1 import registry_pb2 as reg, registry_service_pb2 as svc, registry_service_pb2_grpc as stubs
    from google.protobuf import field_mask_pb2

    channel = grpc.insecure_channel(sys.argv[1])
    grpc.channel_ready_future(channel).result(timeout=10)
    registry = stubs.RegistryServiceStub(channel)
    who = (("x-tongxin-user", "python-client"),)

    watch = registry.WatchChanges(svc.WatchChangesRequest(replay_retained=True), timeout=30)
    first = next(watch)
    check(first.resume_token != "", "the watch starts with a token")

    imported = registry.ImportRegions(svc.ImportRegionsRequest(request_id="regions-1", regions=[
        reg.RegionImportNode(code="420000", name="湖北省"),
        reg.RegionImportNode(code="420100", name="武汉市", parent_code="420000"),
        reg.RegionImportNode(code="420106", name="武昌区", parent_code="420100"),
        reg.RegionImportNode(code="420111", name="洪山区", parent_code="420100"),
    ]), metadata=who)
    check(imported.created_count == 4, "four regions created, got %s" % imported)

    created = []
    for i, (region, name, category) in enumerate([
            ("420106", "张三", reg.MEMBER_CATEGORY_PRIVATE_ECONOMY),
            ("420106", "张四", reg.MEMBER_CATEGORY_RELIGIOUS),
            ("420111", "李五", reg.MEMBER_CATEGORY_PRIVATE_ECONOMY)]):
        member = reg.Member(region_code=region, category=category, name=name,
                            resident_id_number=id_number("420106", "19800101", 11 + 2 * i), mobile="1380013800%d" % i)
        response = registry.CreateMember(svc.CreateMemberRequest(request_id="create-%d" % i, member=member), metadata=who)
        check(response.member.id != "" and response.member.name == name, "created %s" % name)
        check(response.member.personal_data_masked and response.member.resident_id_number.count("*") == 8
              and response.member.mobile.count("*") == 4,
              "without the personal-data permission CreateMember answers masked: %s" % response.member)
        created.append(response.member)

    again = registry.CreateMember(svc.CreateMemberRequest(request_id="create-0", member=reg.Member(
        region_code="420106", category=reg.MEMBER_CATEGORY_PRIVATE_ECONOMY, name="张三",
        resident_id_number=id_number("420106", "19800101", 11), mobile="13800138000")), metadata=who)
    check(again.member.id == created[0].id, "a repeated request_id returns the first result")
    shown = registry.CreateMember(svc.CreateMemberRequest(request_id="create-0", member=reg.Member(
        region_code="420106", category=reg.MEMBER_CATEGORY_PRIVATE_ECONOMY, name="张三",
        resident_id_number=id_number("420106", "19800101", 11), mobile="13800138000")),
        metadata=who + (("x-tongxin-personal-data-regions", "420106"),))
    check(shown.member.id == created[0].id and not shown.member.personal_data_masked
          and shown.member.resident_id_number == id_number("420106", "19800101", 11) and shown.member.mobile == "13800138000",
          "the retry of a caller with the permission answers the recorded member unmasked: %s" % shown.member)

    got = registry.GetMember(svc.GetMemberRequest(member_id=created[1].id), metadata=who)
    check(got.member.name == "张四" and got.member.category == reg.MEMBER_CATEGORY_RELIGIOUS, "GetMember")

    # Personal data: masked unless the caller holds the permission for the member's region.
    full_id = id_number("420106", "19800101", 13)
    check(got.member.personal_data_masked and got.member.resident_id_number == full_id[:6] + "********" + full_id[-4:]
          and got.member.mobile == "138****8001" and not got.member.HasField("birth_date"),
          "without the personal-data permission GetMember masks: %s" % got.member)
    allowed = who + (("x-tongxin-personal-data-regions", "420100"),)
    plain = registry.GetMember(svc.GetMemberRequest(member_id=created[1].id), metadata=allowed)
    check(not plain.member.personal_data_masked and plain.member.resident_id_number == full_id
          and plain.member.mobile == "13800138001" and plain.member.birth_date.year == 1980,
          "with the permission for 武汉市 GetMember shows it: %s" % plain.member)
    elsewhere = registry.GetMember(svc.GetMemberRequest(member_id=created[1].id),
                                   metadata=who + (("x-tongxin-personal-data-regions", "420111"),))
    check(elsewhere.member.personal_data_masked, "a permission for 洪山区 does not show a 武昌区 member")
    try:
        registry.GetMember(svc.GetMemberRequest(member_id=created[1].id),
                           metadata=who + (("x-tongxin-personal-data-regions", "42x"),))
        check(False, "a malformed permission region is rejected")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "x-tongxin-personal-data-regions" in e.details(),
              "INVALID_ARGUMENT naming the header, got %s %s" % (e.code(), e.details()))
    try:
        registry.UpdateMember(svc.UpdateMemberRequest(
            member=reg.Member(id=created[1].id, mobile="13900139000", version=created[1].version),
            update_mask=field_mask_pb2.FieldMask(paths=["mobile"])), metadata=who)
        check(False, "changing a mobile without the permission is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED, got %s %s" % (e.code(), e.details()))
    try:
        registry.ListMembers(svc.ListMembersRequest(region_code="420100", resident_id_number=full_id), metadata=who)
        check(False, "searching by resident ID number without the permission is refused")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED, got %s %s" % (e.code(), e.details()))
    try:
        registry.ListMembers(svc.ListMembersRequest(region_code="42x", resident_id_number=full_id), metadata=who)
        check(False, "a malformed region is rejected")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "a malformed region is INVALID_ARGUMENT before the permission, got %s" % e.code())
    by_id = registry.ListMembers(svc.ListMembersRequest(region_code="420100", resident_id_number=full_id), metadata=allowed)
    check([m.id for m in by_id.members] == [created[1].id], "with the permission the search by resident ID finds the member")
    masked_list = registry.ListMembers(svc.ListMembersRequest(region_code="420000"), metadata=who)
    check(all(m.personal_data_masked and "*" in m.resident_id_number for m in masked_list.members),
          "ListMembers masks without the permission")

    listed = registry.ListMembers(svc.ListMembersRequest(region_code="420100", category=reg.MEMBER_CATEGORY_PRIVATE_ECONOMY), metadata=who)
    check(sorted(m.name for m in listed.members) == ["张三", "李五"], "search by region subtree and category: %s" % [m.name for m in listed.members])
    by_prefix = registry.ListMembers(svc.ListMembersRequest(region_code="420000", name_prefix="张"), metadata=who)
    check(sorted(m.name for m in by_prefix.members) == ["张三", "张四"], "search by name prefix")

    # Region scope: a caller working in 洪山区 (x-tongxin-regions) reaches its own subtree only.
    hongshan = who + (("x-tongxin-regions", "420111"),)

    def out_of_scope(call, what):
        denied(call, what, "OUT_OF_REGION_SCOPE")

    out_of_scope(lambda: registry.GetMember(svc.GetMemberRequest(member_id=created[0].id), metadata=hongshan),
                 "GetMember of a 武昌区 member for a 洪山区 caller")
    own = registry.GetMember(svc.GetMemberRequest(member_id=created[2].id), metadata=hongshan)
    check(own.member.name == "李五", "a 洪山区 caller reads its own member")
    scoped = registry.ListMembers(svc.ListMembersRequest(), metadata=hongshan)
    check([m.name for m in scoped.members] == ["李五"], "a list without a region covers the caller's subtree: %s"
          % [m.name for m in scoped.members])
    out_of_scope(lambda: registry.ListMembers(svc.ListMembersRequest(region_code="420100"), metadata=hongshan),
                 "listing 武汉市 for a 洪山区 caller")
    batch = registry.BatchGetMembers(svc.BatchGetMembersRequest(member_ids=[created[0].id, created[2].id]), metadata=hongshan)
    check([m.id for m in batch.members] == [created[2].id] and list(batch.missing_ids) == [created[0].id],
          "BatchGetMembers returns members outside the scope as missing: %s" % batch)
    out_of_scope(lambda: registry.CreateMember(svc.CreateMemberRequest(request_id="scoped-0", member=reg.Member(
        region_code="420106", category=reg.MEMBER_CATEGORY_RELIGIOUS, name="越界",
        resident_id_number=id_number("420106", "19800101", 31))), metadata=hongshan), "creating a 武昌区 member")
    # Roles: admitting takes the admission role once the gateway names the caller's roles.
    clerk = hongshan + (("x-tongxin-roles", "supervisor"),)
    try:
        registry.AdmitMember(svc.AdmitMemberRequest(member_id=created[2].id, version=created[2].version, reason="认定"),
                             metadata=clerk)
        check(False, "admitting without the admission role is refused")
    except grpc.RpcError as e:
        info = details(e).get("ErrorInfo")
        check(e.code() == grpc.StatusCode.PERMISSION_DENIED and info is not None and info.reason == "ROLE_NOT_ALLOWED"
              and "admission" in e.details(), "PERMISSION_DENIED ROLE_NOT_ALLOWED, got %s %s" % (e.code(), e.details()))
    check(registry.GetMember(svc.GetMemberRequest(member_id=created[2].id), metadata=who).member.status
          == reg.MEMBER_STATUS_PENDING, "the refused admission changed nothing")
    both = who + (("x-tongxin-regions", "420106, 420111"),)
    wuchang = registry.ListMembers(svc.ListMembersRequest(region_code="420106"), metadata=both)
    check(sorted(m.name for m in wuchang.members) == ["张三", "张四"], "a scope of two districts lists either of them")
    try:
        registry.ListMembers(svc.ListMembersRequest(), metadata=both)
        check(False, "a list without a region is refused for a scope of two subtrees")
    except grpc.RpcError as e:
        bad = details(e).get("BadRequest")
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and bad is not None
              and bad.field_violations[0].field == "region_code", "INVALID_ARGUMENT naming region_code, got %s %s"
              % (e.code(), e.details()))
    try:
        registry.GetMember(svc.GetMemberRequest(member_id=created[2].id), metadata=who + (("x-tongxin-regions", "4201x"),))
        check(False, "a malformed scope region is rejected")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT and "x-tongxin-regions" in e.details(),
              "INVALID_ARGUMENT naming the header, got %s %s" % (e.code(), e.details()))

    try:
        registry.CreateMember(svc.CreateMemberRequest(request_id="bad", member=reg.Member(
            region_code="420106", category=reg.MEMBER_CATEGORY_PRIVATE_ECONOMY, name="坏",
            resident_id_number="420106198001010010")), metadata=who)
        check(False, "a bad resident ID number is rejected")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT, got %s" % e.code())
        bad = details(e).get("BadRequest")
        check(bad is not None and bad.field_violations[0].field == "member.resident_id_number",
              "BadRequest names the field: %s" % details(e))

    # The negative list: whether a person is barred, and the entry of an identifier, are
    # personal data; an enterprise's standing is not.
    barred_id = id_number("420106", "19700101", 51)
    entry = registry.AddNegativeListEntry(svc.AddNegativeListEntryRequest(request_id="nl-1", entry=reg.NegativeListEntry(
        subject_kind=reg.NEGATIVE_LIST_SUBJECT_KIND_PERSON, name="某人", resident_id_number=barred_id,
        reason=reg.NEGATIVE_LIST_REASON_DISHONEST_DEBTOR, basis="(2026)鄂0106执123号", region_code="420106")),
        metadata=who).entry
    person_check = svc.CheckNegativeListRequest(subject_kind=reg.NEGATIVE_LIST_SUBJECT_KIND_PERSON,
                                                resident_id_number=barred_id, region_code="420106")

    def refused_personal_data(call, what):
        denied(call, what + " without the personal-data permission", "ROLE_NOT_ALLOWED", "personal-data permission")

    refused_personal_data(lambda: registry.CheckNegativeList(person_check, metadata=who), "checking a person")
    refused_personal_data(lambda: registry.CheckNegativeList(svc.CheckNegativeListRequest(
        subject_kind=reg.NEGATIVE_LIST_SUBJECT_KIND_PERSON, resident_id_number=barred_id), metadata=allowed),
        "checking a person province-wide with a permission for 武汉市")
    checked = registry.CheckNegativeList(person_check, metadata=allowed)
    check(checked.listed and [e.id for e in checked.entries] == [entry.id]
          and checked.entries[0].resident_id_number == barred_id, "with the permission the check names the entry: %s" % checked)
    enterprise = registry.CheckNegativeList(svc.CheckNegativeListRequest(
        subject_kind=reg.NEGATIVE_LIST_SUBJECT_KIND_ENTERPRISE, unified_social_credit_code="91350100M000100Y43",
        region_code="420106"), metadata=who)
    check(not enterprise.listed, "an enterprise check needs no permission: %s" % enterprise)
    refused_personal_data(lambda: registry.ListNegativeListEntries(svc.ListNegativeListEntriesRequest(
        region_code="420100", resident_id_number=barred_id), metadata=who), "listing the entries of a resident ID")
    refused_personal_data(lambda: registry.ListNegativeListEntries(svc.ListNegativeListEntriesRequest(
        region_code="420100", unified_social_credit_code="91350100M000100Y43"), metadata=who),
        "listing the entries of a credit code")
    found = registry.ListNegativeListEntries(svc.ListNegativeListEntriesRequest(
        region_code="420100", resident_id_number=barred_id), metadata=allowed)
    check([e.id for e in found.entries] == [entry.id], "with the permission the entry of a resident ID is found: %s" % found)
    masked_entries = registry.ListNegativeListEntries(svc.ListNegativeListEntriesRequest(region_code="420100"), metadata=who)
    check([e.id for e in masked_entries.entries] == [entry.id] and masked_entries.entries[0].personal_data_masked
          and masked_entries.entries[0].resident_id_number != barred_id, "the list without a filter masks: %s" % masked_entries)

    stale = reg.Member(id=created[0].id, name="张三丰", version=created[0].version + 5)
    try:
        registry.UpdateMember(svc.UpdateMemberRequest(member=stale, update_mask=field_mask_pb2.FieldMask(paths=["name"])), metadata=who)
        check(False, "a stale version is rejected")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.ABORTED, "ABORTED, got %s %s" % (e.code(), e.details()))

    seen = []
    token_after_first = None
    for message in watch:
        if message.HasField("event") and message.event.entity_kind == reg.CHANGE_ENTITY_KIND_MEMBER:
            check(message.event.member.personal_data_masked, "a watcher without the permission sees events masked")
            seen.append(message.event.entity_id)
            if token_after_first is None:
                token_after_first = message.resume_token
            if len(seen) == 3:
                break
    watch.cancel()
    check(seen == [m.id for m in created], "the watch saw the three creates in order: %s" % seen)

    resumed = registry.WatchChanges(svc.WatchChangesRequest(resume_token=token_after_first), timeout=30)
    rest = []
    for message in resumed:
        if message.HasField("event") and message.event.entity_kind == reg.CHANGE_ENTITY_KIND_MEMBER:
            rest.append(message.event.entity_id)
        if message.caught_up:
            break
    resumed.cancel()
    check(rest == [m.id for m in created[1:]], "resuming after the first create gives the other two, once: %s" % rest)
    print("PASS")


if __name__ == "__main__":
    main()

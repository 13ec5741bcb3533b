import Model
import RegistryCore
import ServiceKit
import Testing

/// Region scope (common.proto): a caller reaches the records of its subtrees only; outside
/// them a call is PERMISSION_DENIED (OUT_OF_REGION_SCOPE) and changes nothing.
@Suite("Region scope")
struct RegionScopeTests {
    static func scope(_ codes: String...) throws -> RegionScope {
        RegionScope(regions: try codes.map { try RegionCode(validating: $0) })
    }

    /// A caller working in 福田区 (440304) who may also see personal data there.
    static func futian() throws -> Caller {
        let region = try RegionCode(validating: "440304")
        return Caller(userID: "u-futian", personalDataRegions: [region], scope: RegionScope(regions: [region]))
    }

    /// The reason of an OUT_OF_REGION_SCOPE denial, or nil (recorded as an issue) for anything else.
    static func outOfScope(_ error: ServiceError?, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard case .permissionDenied(let reason, "OUT_OF_REGION_SCOPE") = error else {
            Issue.record("expected PERMISSION_DENIED OUT_OF_REGION_SCOPE, got \(String(describing: error))", sourceLocation: sourceLocation)
            return nil
        }
        return reason
    }

    /// Expects `body` to be refused as OUT_OF_REGION_SCOPE; returns the reason.
    @discardableResult
    static func expectOutOfScope<T>(
        _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation
    ) async -> String? {
        Self.outOfScope(await expectServiceError(body, sourceLocation: sourceLocation), sourceLocation: sourceLocation)
    }

    @Test("contains, covers and the subtree a list without a region stands for")
    func scopeRules() throws {
        let futian = try Self.scope("440304")
        #expect(futian.contains(regionCode: "440304002000") && futian.contains(regionCode: "440304"))
        #expect(!futian.contains(regionCode: "440305001001") && !futian.contains(regionCode: "440300"))
        #expect(!futian.contains(regionCode: ""), "a province-wide record needs a province in the scope")
        #expect(try Self.scope("440000").contains(regionCode: ""))
        #expect(RegionScope.unrestricted.contains(regionCode: "") && RegionScope.unrestricted.contains(regionCode: "110101"))
        #expect(futian.covers(try RegionCode(validating: "440304002000")))
        #expect(!futian.covers(try RegionCode(validating: "440300")), "a city is not inside one of its counties")

        #expect(try futian.subtree("", field: "region_code") == "440304")
        #expect(try futian.subtree("440304002000", field: "region_code") == "440304002000")
        #expect(try RegionScope.unrestricted.subtree("", field: "region_code") == "")
        #expect(try futian.subtree("44x", field: "region_code") == "44x", "malformed codes are the request's validation's")
        var denied: ServiceError?
        do { _ = try futian.subtree("440300", field: "region_code") } catch { denied = error }
        #expect(Self.outOfScope(denied)?.contains("region_code 440300") == true)
        var ambiguous: ServiceError?
        let both = try Self.scope("440304", "440305")
        do { _ = try both.subtree("", field: "region_code") } catch { ambiguous = error }
        guard case .invalidArgument("region_code", let why, _) = ambiguous else {
            Issue.record("expected INVALID_ARGUMENT region_code, got \(String(describing: ambiguous))")
            return
        }
        #expect(why.contains("440304, 440305"))
        #expect(RegionScope(regions: []).contains(regionCode: "440304") == false)
        var none: ServiceError?
        do { _ = try RegionScope(regions: []).subtree("", field: "region_code") } catch { none = error }
        _ = Self.outOfScope(none)
        // A subtree named twice, or inside another one named, is one subtree.
        let repeated = try Self.scope("440304", "440304002000", "440304")
        #expect(repeated.regions?.map(\.code) == ["440304"])
        #expect(try repeated.subtree("", field: "region_code") == "440304")
    }

    @Test("members: outside the scope nothing is read, created or changed", arguments: Engine.allCases)
    func members(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let futian = try Self.futian()
            let nanshan = try await Fixtures.create(store, Fixtures.member("南山成员", id: 31))
            let own = try await store.createMember(
                RegistryV1.CreateMemberRequest(
                    requestId: "f-1", member: Fixtures.member("福田成员", region: "440304002000", id: 33)), caller: futian
            ).member!

            let create = await Self.expectOutOfScope {
                try await store.createMember(
                    RegistryV1.CreateMemberRequest(requestId: "f-2", member: Fixtures.member("越界", id: 35)), caller: futian)
            }
            #expect(create?.contains("member.region_code 440305001001 lies outside") == true)

            let get = RegistryV1.GetMemberRequest(memberId: nanshan.id)
            let denied = await Self.expectOutOfScope { try await store.getMemberEncoded(get, disclosingTo: futian) }
            #expect(denied?.contains("member \(nanshan.id)") == true)
            #expect(denied?.contains("440305") == false, "where an outsider's record is is not the caller's to know")
            let mine = try RegistryV1.GetMemberResponse(
                serializedBytes: try await store.getMemberEncoded(RegistryV1.GetMemberRequest(memberId: own.id), disclosingTo: futian))
            #expect(mine.member == own)

            let batch = try await store.batchGetMembers(
                RegistryV1.BatchGetMembersRequest(memberIds: [nanshan.id, own.id, "m-none"]), scope: futian.scope)
            #expect(batch.members.map(\.id) == [own.id])
            #expect(batch.missingIds == [nanshan.id, "m-none"])

            // A stale version too: the scope is checked first, so an outsider learns no version.
            var change = nanshan
            change.name = "改名"
            change.version = 7
            await Self.expectOutOfScope {
                try await store.updateMember(
                    RegistryV1.UpdateMemberRequest(member: change, updateMask: GoogleProtobuf.FieldMask(paths: ["name"])),
                    caller: futian)
            }
            var move = own
            move.regionCode = "440305001002"
            let moved = await Self.expectOutOfScope {
                try await store.updateMember(
                    RegistryV1.UpdateMemberRequest(member: move, updateMask: GoogleProtobuf.FieldMask(paths: ["region_code"])),
                    caller: futian)
            }
            #expect(moved?.contains("member.region_code") == true)
            await Self.expectOutOfScope {
                try await store.admitMember(
                    RegistryV1.AdmitMemberRequest(memberId: nanshan.id, version: 1, reason: "认定"), caller: futian)
            }
            await Self.expectOutOfScope {
                try await store.listMemberHistory(RegistryV1.ListMemberHistoryRequest(memberId: nanshan.id), scope: futian.scope)
            }

            // Nothing changed: both members as created, one history entry each.
            #expect(try await store.getMember(get).member == nanshan)
            #expect(try await store.getMember(RegistryV1.GetMemberRequest(memberId: own.id)).member == own)
            let entries = try await store.listMemberHistory(RegistryV1.ListMemberHistoryRequest(memberId: own.id), scope: futian.scope)
            #expect(entries.entries.map(\.eventKind) == [.created])
            let all = try await store.listMembers(RegistryV1.ListMembersRequest())
            #expect(Set(all.members.map(\.id)) == [nanshan.id, own.id])
        }
    }

    @Test("organisations, memberships, contacts and the negative list keep to the scope", arguments: Engine.allCases)
    func others(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let futian = try Self.futian()
            let nanshanMember = try await Fixtures.create(store, Fixtures.member("南山成员", id: 41), admit: true)
            let nanshanOrg = try await store.createOrganisation(
                RegistryV1.CreateOrganisationRequest(
                    requestId: "o-1", organisation: RegistryV1.Organisation(name: "南山区知联会", kind: .chamberOfCommerce, regionCode: "440305")),
                caller: Fixtures.caller
            ).organisation!

            await Self.expectOutOfScope {
                try await store.createOrganisation(
                    RegistryV1.CreateOrganisationRequest(
                        requestId: "o-2",
                        organisation: RegistryV1.Organisation(name: "越界会", kind: .chamberOfCommerce, regionCode: "440305")),
                    caller: futian)
            }
            await Self.expectOutOfScope {
                try await store.getOrganisation(RegistryV1.GetOrganisationRequest(organisationId: nanshanOrg.id), scope: futian.scope)
            }
            var rename = nanshanOrg
            rename.name = "改名"
            await Self.expectOutOfScope {
                try await store.updateOrganisation(
                    RegistryV1.UpdateOrganisationRequest(organisation: rename, updateMask: GoogleProtobuf.FieldMask(paths: ["name"])),
                    caller: futian)
            }
            await Self.expectOutOfScope {
                try await store.listOrganisationHistory(
                    RegistryV1.ListOrganisationHistoryRequest(organisationId: nanshanOrg.id), scope: futian.scope)
            }

            await Self.expectOutOfScope {
                try await store.createMembership(
                    RegistryV1.CreateMembershipRequest(
                        requestId: "s-1", membership: RegistryV1.Membership(organisationId: nanshanOrg.id, memberId: nanshanMember.id)),
                    caller: futian)
            }
            let membership = try await store.createMembership(
                RegistryV1.CreateMembershipRequest(
                    requestId: "s-2", membership: RegistryV1.Membership(organisationId: nanshanOrg.id, memberId: nanshanMember.id)),
                caller: Fixtures.caller
            ).membership!
            let end = await Self.expectOutOfScope {
                try await store.endMembership(
                    RegistryV1.EndMembershipRequest(membershipId: membership.id, version: 1, endReason: "退会"), caller: futian)
            }
            #expect(end?.contains("membership \(membership.id)") == true)
            await Self.expectOutOfScope {
                try await store.listMemberships(RegistryV1.ListMembershipsRequest(memberId: nanshanMember.id), scope: futian.scope)
            }

            await Self.expectOutOfScope {
                try await store.createContactRecord(
                    RegistryV1.CreateContactRecordRequest(
                        requestId: "c-1",
                        record: RegistryV1.ContactRecord(
                            memberId: nanshanMember.id, kind: .monthlyContact, channel: .phone,
                            contactTime: GoogleProtobuf.Timestamp(seconds: Fixtures.noon() / 1_000_000 - 3600), content: "电话联系")),
                    caller: futian)
            }

            // A negative-list entry bars its whole subtree: a 福田区 caller may not add one for 深圳市.
            let listed = await Self.expectOutOfScope {
                try await store.addNegativeListEntry(
                    RegistryV1.AddNegativeListEntryRequest(
                        requestId: "n-1",
                        entry: RegistryV1.NegativeListEntry(
                            subjectKind: .person, name: "某人", residentIdNumber: Fixtures.residentID(43), reason: .dishonestDebtor,
                            basis: "通报", regionCode: "440300")),
                    caller: futian)
            }
            #expect(listed?.contains("entry.region_code 440300") == true)
            let entry = try await store.addNegativeListEntry(
                RegistryV1.AddNegativeListEntryRequest(
                    requestId: "n-2",
                    entry: RegistryV1.NegativeListEntry(
                        subjectKind: .person, name: "某人", residentIdNumber: Fixtures.residentID(43), reason: .dishonestDebtor,
                        basis: "通报", regionCode: "440304")),
                caller: futian
            ).entry!
            #expect(entry.regionCode == "440304")

            // Nothing was written by the refused calls.
            #expect(try await store.getOrganisation(RegistryV1.GetOrganisationRequest(organisationId: nanshanOrg.id)).organisation?.name == "南山区知联会")
            let active = try await store.listMemberships(RegistryV1.ListMembershipsRequest(memberId: nanshanMember.id))
            #expect(active.memberships.map(\.id) == [membership.id] && active.memberships[0].active)
            let contacts = try await store.listContactRecords(RegistryV1.ListContactRecordsRequest())
            #expect(contacts.records.isEmpty)
        }
    }

    @Test("a scoped region administrator changes the regions inside its subtree, not its root", arguments: Engine.allCases)
    func regionTree(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let nanshan = Caller(userID: "u-nanshan", scope: try Self.scope("440305"), roles: CallerRoles([.regionAdmin]))
            let added = try await store.importRegions(
                RegistryV1.ImportRegionsRequest(
                    requestId: "r-1", regions: [.init(code: "440305001003", name: "新社区", parentCode: "440305001000")]),
                caller: nanshan)
            #expect(added.createdCount == 1)
            // Its own root belongs to the city: moving or renaming it is the city's.
            let moved = await Self.expectOutOfScope {
                try await store.importRegions(
                    RegistryV1.ImportRegionsRequest(
                        requestId: "r-2", regions: [.init(code: "440305", name: "南山区", parentCode: "440000")]),
                    caller: nanshan)
            }
            #expect(moved?.contains("regions[0].code 440305") == true)
            let root = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305")).region!
            var renamed = root
            renamed.name = "南山"
            await Self.expectOutOfScope {
                try await store.updateRegion(
                    RegistryV1.UpdateRegionRequest(region: renamed, updateMask: GoogleProtobuf.FieldMask(paths: ["name"])),
                    caller: nanshan)
            }
            let township = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305001000")).region!
            var street = township
            street.name = "南头街道办"
            let updated = try await store.updateRegion(
                RegistryV1.UpdateRegionRequest(region: street, updateMask: GoogleProtobuf.FieldMask(paths: ["name"])),
                caller: nanshan)
            #expect(updated.region?.name == "南头街道办")
            let after = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305")).region!
            #expect(after == root)
        }
    }

    @Test("the RPCs that need a role refuse a caller without it, and change nothing", arguments: Engine.allCases)
    func roles(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let clerk = Caller(userID: "u-clerk", roles: CallerRoles([.supervisor]))
            func refused(_ error: ServiceError?, _ role: String, sourceLocation: SourceLocation = #_sourceLocation) {
                guard case .permissionDenied(let why, "ROLE_NOT_ALLOWED") = error, why.contains("the \(role) role") else {
                    Issue.record("expected ROLE_NOT_ALLOWED naming \(role), got \(String(describing: error))", sourceLocation: sourceLocation)
                    return
                }
            }
            refused(
                await expectServiceError {
                    try await store.importRegions(
                        RegistryV1.ImportRegionsRequest(
                            requestId: "r-2", regions: [.init(code: "440306", name: "宝安区", parentCode: "440300")]),
                        caller: clerk)
                }, "region-admin")
            refused(
                await expectServiceError {
                    try await store.updateRegion(
                        RegistryV1.UpdateRegionRequest(
                            region: RegistryV1.Region(code: "440304", name: "福田", version: 1),
                            updateMask: GoogleProtobuf.FieldMask(paths: ["name"])),
                        caller: clerk)
                }, "region-admin")
            refused(
                await expectServiceError {
                    try await store.createMember(
                        RegistryV1.CreateMemberRequest(requestId: "a-1", member: Fixtures.member("直接认定", id: 51), admit: true),
                        caller: clerk)
                }, "admission")
            // Without admit a clerk registers a PENDING member; admitting or rejecting it takes the role.
            let pending = try await store.createMember(
                RegistryV1.CreateMemberRequest(requestId: "a-2", member: Fixtures.member("待认定", id: 53)), caller: clerk
            ).member!
            refused(
                await expectServiceError {
                    try await store.admitMember(
                        RegistryV1.AdmitMemberRequest(memberId: pending.id, version: 1, reason: "认定"), caller: clerk)
                }, "admission")
            refused(
                await expectServiceError {
                    try await store.rejectMember(
                        RegistryV1.RejectMemberRequest(memberId: pending.id, version: 1, reason: "不予认定"), caller: clerk)
                }, "admission")
            let entry = RegistryV1.NegativeListEntry(
                subjectKind: .person, name: "某人", residentIdNumber: Fixtures.residentID(55), reason: .dishonestDebtor,
                basis: "通报", regionCode: "440300")
            refused(
                await expectServiceError {
                    try await store.addNegativeListEntry(
                        RegistryV1.AddNegativeListEntryRequest(requestId: "n-1", entry: entry), caller: clerk)
                }, "negative-list")
            let added = try await store.addNegativeListEntry(
                RegistryV1.AddNegativeListEntryRequest(requestId: "n-2", entry: entry),
                caller: Caller(userID: "u-officer", roles: CallerRoles([.negativeList]))
            ).entry!
            refused(
                await expectServiceError {
                    try await store.removeNegativeListEntry(
                        RegistryV1.RemoveNegativeListEntryRequest(entryId: added.id, version: 1, removalReason: "撤销"),
                        caller: clerk)
                }, "negative-list")

            // Nothing changed: the member still PENDING, the entry still active, no new region.
            #expect(try await store.getMember(RegistryV1.GetMemberRequest(memberId: pending.id)).member?.status == .pending)
            let check = try await store.checkNegativeList(
                RegistryV1.CheckNegativeListRequest(subjectKind: .person, residentIdNumber: Fixtures.residentID(55), regionCode: "440304"))
            #expect(check.listed && check.entries.map(\.id) == [added.id])
            let regions = await expectServiceError { try await store.getRegion(RegistryV1.GetRegionRequest(code: "440306")) }
            #expect(regions.map { if case .notFound = $0 { true } else { false } } == true)
            let admitted = try await store.admitMember(
                RegistryV1.AdmitMemberRequest(memberId: pending.id, version: 1, reason: "认定"),
                caller: Caller(userID: "u-admit", roles: CallerRoles([.admission])))
            #expect(admitted.member?.status == .active)
        }
    }
}

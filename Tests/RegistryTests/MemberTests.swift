import Model
import RegistryCore
import ServiceKit
import Testing

@Suite("Members")
struct MemberTests {
    @Test("create, get, idempotent retry, request_id conflict", arguments: Engine.allCases)
    func createAndGet(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            var input = Fixtures.member("张三丰", id: 11, specialties: ["中医", "法律咨询"])
            input.residentIdNumber = String(input.residentIdNumber.dropLast()) + input.residentIdNumber.suffix(1).lowercased()
            let request = RegistryV1.CreateMemberRequest(requestId: "r-1", member: input, reason: "县知联会推荐")
            let created = try await store.createMember(request, caller: Fixtures.caller).member!
            #expect(created.status == .pending)
            #expect(created.version == 1)
            #expect(created.gender == .male)
            #expect(created.birthDate == CommonV1.Date(year: 1990, month: 1, day: 1))
            #expect(created.residentIdNumber == Fixtures.residentID(11))
            #expect(created.audit?.createdBy == "u-admin")

            let fetched = try await store.getMember(RegistryV1.GetMemberRequest(memberId: created.id)).member
            #expect(fetched == created)

            let retried = try await store.createMember(request, caller: Fixtures.caller).member
            #expect(retried == created)
            let list = try await store.listMembers(RegistryV1.ListMembersRequest())
            #expect(list.members.count == 1)

            var other = request
            other.member?.name = "张三"
            let conflict = await expectServiceError { try await store.createMember(other, caller: Fixtures.caller) }
            #expect(conflict == .alreadyExists(resource: "request_id", name: "r-1", errorReason: "REQUEST_ID_CONFLICT"))

            let batch = try await store.batchGetMembers(
                RegistryV1.BatchGetMembersRequest(memberIds: ["nope", created.id, created.id]))
            #expect(batch.members.map(\.id) == [created.id])
            #expect(batch.missingIds == ["nope"])
        }
    }

    @Test("member ids are m and 20 hex digits, and ids made later sort later")
    func idShape() async throws {
        try await withStore(.sqlite) { store in
            try await Fixtures.importTree(store)
            var ids: [String] = []
            for index in 0..<5 {
                let request = RegistryV1.CreateMemberRequest(
                    requestId: "id-\(index)", member: Fixtures.member("成员\(index)", id: 20 + index))
                ids.append(try await store.createMember(request, caller: Fixtures.caller).member!.id)
                try await Task.sleep(for: .milliseconds(2))
            }
            for id in ids {
                #expect(id.count == 21 && id.first == "m", "\(id)")
                #expect(id.dropFirst().allSatisfy { "0123456789abcdef".contains($0) }, "\(id)")
            }
            #expect(ids == ids.sorted())
            #expect(Set(ids).count == ids.count)
        }
    }

    @Test("validation names the field and the rule", arguments: Engine.allCases)
    func validation(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            var badID = Fixtures.member("李四", id: 12)
            badID.residentIdNumber = String(badID.residentIdNumber.dropLast()) + (badID.residentIdNumber.last == "1" ? "2" : "1")
            let error = await expectServiceError { try await Fixtures.create(store, badID) }
            guard case .invalidArgument(let field, let reason, let code) = error else {
                Issue.record("expected INVALID_ARGUMENT, got \(String(describing: error))")
                return
            }
            #expect(field == "member.resident_id_number")
            #expect(code == "INVALID_RESIDENT_ID_NUMBER")
            #expect(reason.contains("ISO 7064 MOD 11-2"))

            var badCredit = Fixtures.member("王五", category: .privateEconomy, id: 13)
            badCredit.privateEconomyDetails = RegistryV1.PrivateEconomyDetails(
                enterpriseName: "某公司", unifiedSocialCreditCode: "91350100M000100Y40")
            let creditError = await expectServiceError { try await Fixtures.create(store, badCredit) }
            #expect(
                creditError.map { if case .invalidArgument(let field, _, let code) = $0 { "\(field) \(code)" } else { "" } }
                    == "member.private_economy_details.unified_social_credit_code INVALID_CREDIT_CODE")

            let noRegion = await expectServiceError { try await Fixtures.create(store, Fixtures.member("赵六", region: "440306")) }
            #expect(noRegion == .notFound(resource: "tongxin.registry.v1.Region", name: "440306"))

            var wrongGender = Fixtures.member("钱七", id: 15)
            wrongGender.gender = .female
            let genderError = await expectServiceError { try await Fixtures.create(store, wrongGender) }
            #expect(genderError.map { if case .invalidArgument(let field, _, _) = $0 { field } else { "" } } == "member.gender")

            _ = try await Fixtures.create(store, Fixtures.member("孙八", id: 17))
            let duplicate = await expectServiceError {
                try await Fixtures.create(store, Fixtures.member("孙八二", id: 17))
            }
            guard case .alreadyExists(_, _, "ALREADY_EXISTS") = duplicate else {
                Issue.record("expected ALREADY_EXISTS, got \(String(describing: duplicate))")
                return
            }
        }
    }

    @Test("update with a stale version is ABORTED and changes nothing", arguments: Engine.allCases)
    func optimisticConcurrency(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let created = try await Fixtures.create(store, Fixtures.member("周九", id: 19))
            var change = created
            change.employer = "深圳大学"
            change.regionCode = "440304002000"
            let updated = try await store.updateMember(
                RegistryV1.UpdateMemberRequest(
                    member: change, updateMask: GoogleProtobuf.FieldMask(paths: ["employer", "region_code"]),
                    reason: "调动"),
                caller: Fixtures.caller
            ).member!
            #expect(updated.version == 2)
            #expect(updated.employer == "深圳大学")
            #expect(updated.regionCode == "440304002000")

            var stale = created
            stale.employer = "别处"
            let error = await expectServiceError {
                try await store.updateMember(
                    RegistryV1.UpdateMemberRequest(member: stale, updateMask: GoogleProtobuf.FieldMask(paths: ["employer"])),
                    caller: Fixtures.caller)
            }
            #expect(error == .aborted(currentVersion: 2))
            let after = try await store.getMember(RegistryV1.GetMemberRequest(memberId: created.id)).member
            #expect(after == updated)

            let badPath = await expectServiceError {
                try await store.updateMember(
                    RegistryV1.UpdateMemberRequest(member: updated, updateMask: GoogleProtobuf.FieldMask(paths: ["status"])),
                    caller: Fixtures.caller)
            }
            #expect(
                badPath.map { if case .invalidArgument(let field, _, let code) = $0 { "\(field) \(code)" } else { "" } }
                    == "update_mask.paths[0] INVALID_UPDATE_MASK")

            let history = try await store.listMemberHistory(RegistryV1.ListMemberHistoryRequest(memberId: created.id))
            #expect(history.entries.map(\.eventKind) == [.regionChanged, .created])
            #expect(history.entries.first?.changedPaths == ["employer", "region_code"])
            #expect(history.entries.first?.reason == "调动")
        }
    }

    @Test("a retry is the same request by content: other bytes for the same message are not a conflict", arguments: Engine.allCases)
    func retryBySameContent(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let request = RegistryV1.CreateMemberRequest(requestId: "req-bytes", member: Fixtures.member("郑一", id: 23))
            let received = request.serializedBytes()
            let first = try await store.createMember(request, caller: Fixtures.caller, requestBytes: received)
            // The same message as another client might send it: with a field this server does
            // not know (number 99, a string) after the known ones.
            let other = received + [0x9A, 0x06, 0x01, 0x78]
            #expect(other != received)
            #expect(try RegistryV1.CreateMemberRequest(serializedBytes: other) == request)
            let retry = try await store.createMember(request, caller: Fixtures.caller, requestBytes: other)
            #expect(retry.member == first.member)
            var changed = request
            changed.member?.name = "郑二"
            let conflict = await expectServiceError {
                try await store.createMember(changed, caller: Fixtures.caller, requestBytes: changed.serializedBytes())
            }
            #expect(conflict == .alreadyExists(resource: "request_id", name: "req-bytes", errorReason: "REQUEST_ID_CONFLICT"))
        }
    }

    @Test("personal data: shown only where the caller holds the permission; naming it in an update needs it", arguments: Engine.allCases)
    func personalData(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let created = try await Fixtures.create(store, Fixtures.member("吴十", id: 21))
            let nanshan = Caller(userID: "u-nanshan", personalDataRegions: [try RegionCode(validating: "440305")])
            let futian = Caller(userID: "u-futian", personalDataRegions: [try RegionCode(validating: "440304")])
            let nobody = Caller(userID: "u-nobody")
            #expect(nanshan.disclosed(created) == created)
            let masked = futian.disclosed(created)
            #expect(masked.personalDataMasked && masked.mobile == "138****8000" && masked.birthDate == nil)
            #expect(masked.residentIdNumber == String(created.residentIdNumber.prefix(6)) + "********"
                + String(created.residentIdNumber.suffix(4)))
            #expect(nobody.disclosed(RegistryV1.ChangeEvent(member: created)).member == masked)
            // The encoded GetMember: stored bytes for a caller who may see them, masked otherwise.
            let request = RegistryV1.GetMemberRequest(memberId: created.id)
            let shown = try RegistryV1.GetMemberResponse(
                serializedBytes: try await store.getMemberEncoded(request, disclosingTo: nanshan))
            #expect(shown.member == created)
            let hidden = try RegistryV1.GetMemberResponse(
                serializedBytes: try await store.getMemberEncoded(request, disclosingTo: futian))
            #expect(hidden.member == masked)
            // The encoded CreateMember, answered from what the create recorded: as is for a
            // caller who may see it, masked otherwise (a retry as much as the first call).
            let create = RegistryV1.CreateMemberRequest(requestId: "req-disclosed", member: Fixtures.member("吴十一", id: 22))
            let unmasked = try RegistryV1.CreateMemberResponse(
                serializedBytes: try await store.createMemberEncoded(
                    create, caller: futian, requestBytes: nil, disclosing: false)
            ).member!
            #expect(!unmasked.personalDataMasked && unmasked.residentIdNumber == create.member!.residentIdNumber)
            // The same user with the permission for 南山区: its retry is answered unmasked.
            let futianWithNanshan = Caller(userID: "u-futian", personalDataRegions: [try RegionCode(validating: "440305")])
            for (caller, expected) in [(futian, Masking.masked(unmasked)), (futianWithNanshan, unmasked)] {
                let answered = try RegistryV1.CreateMemberResponse(
                    serializedBytes: try await store.createMemberEncoded(
                        create, caller: caller, requestBytes: nil, disclosing: true))
                #expect(answered.member == expected)
            }
            // An entry without a region: only a province-wide permission shows it.
            let entry = RegistryV1.NegativeListEntry(residentIdNumber: created.residentIdNumber)
            #expect(nanshan.disclosed(entry).personalDataMasked)
            #expect(!Fixtures.caller.disclosed(entry).personalDataMasked)

            var change = created
            change.mobile = "13900139000"
            change.employer = "南山中学"
            let refused = await expectServiceError {
                try await store.updateMember(
                    RegistryV1.UpdateMemberRequest(
                        member: change, updateMask: GoogleProtobuf.FieldMask(paths: ["employer", "mobile"])),
                    caller: futian)
            }
            guard case .permissionDenied(let reason, "ROLE_NOT_ALLOWED") = refused else {
                Issue.record("expected PERMISSION_DENIED, got \(String(describing: refused))")
                return
            }
            #expect(reason.contains("mobile") && reason.contains("440305001001"))
            let employerOnly = try await store.updateMember(
                RegistryV1.UpdateMemberRequest(member: change, updateMask: GoogleProtobuf.FieldMask(paths: ["employer"])),
                caller: futian
            ).member!
            #expect(employerOnly.employer == "南山中学" && employerOnly.mobile == created.mobile)
            change.version = employerOnly.version
            let mobile = try await store.updateMember(
                RegistryV1.UpdateMemberRequest(member: change, updateMask: GoogleProtobuf.FieldMask(paths: ["mobile"])),
                caller: nanshan
            ).member!
            #expect(mobile.mobile == "13900139000")
        }
    }

    @Test("lifecycle transitions keep history, newest first", arguments: Engine.allCases)
    func lifecycle(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let created = try await Fixtures.create(store, Fixtures.member("吴十", id: 21))
            let caller = Fixtures.caller
            let admitted = try await store.admitMember(
                RegistryV1.AdmitMemberRequest(memberId: created.id, version: 1, reason: "统战部部务会认定"), caller: caller
            ).member!
            #expect(admitted.status == .active)
            #expect(admitted.admissionDate == CommonV1.Date(year: 2026, month: 6, day: 15))

            let again = await expectServiceError {
                try await store.admitMember(
                    RegistryV1.AdmitMemberRequest(memberId: created.id, version: 2, reason: "再认定"), caller: caller)
            }
            #expect(
                again.map { if case .failedPrecondition(_, _, let code) = $0 { code } else { "" } }
                    == "INVALID_STATE_TRANSITION")

            let suspended = try await store.suspendMember(
                RegistryV1.SuspendMemberRequest(memberId: created.id, version: 2, suspensionReason: .underReview, reason: "审查"),
                caller: caller
            ).member!
            #expect(suspended.status == .suspended)
            let reinstated = try await store.reinstateMember(
                RegistryV1.ReinstateMemberRequest(memberId: created.id, version: 3, reason: "审查结束"), caller: caller
            ).member!
            #expect(reinstated.status == .active)
            let exited = try await store.exitMember(
                RegistryV1.ExitMemberRequest(memberId: created.id, version: 4, exitReason: .relocated, reason: "迁出本省"),
                caller: caller
            ).member!
            #expect(exited.status == .exited)
            #expect(exited.exitDate == CommonV1.Date(year: 2026, month: 6, day: 15))

            let noReason = await expectServiceError {
                try await store.rejectMember(RegistryV1.RejectMemberRequest(memberId: created.id, version: 5), caller: caller)
            }
            #expect(noReason.map { if case .invalidArgument(let field, _, _) = $0 { field } else { "" } } == "reason")

            let history = try await store.listMemberHistory(RegistryV1.ListMemberHistoryRequest(memberId: created.id))
            #expect(history.entries.map(\.eventKind) == [.exited, .reinstated, .suspended, .admitted, .created])
            #expect(history.entries[0].exitReason == .relocated)
            #expect(history.entries[2].suspensionReason == .underReview)
            #expect(history.entries[2].previousMemberStatus == .active)
            #expect(history.entries.map(\.versionAfter) == [5, 4, 3, 2, 1])

            let paged = try await store.listMemberHistory(
                RegistryV1.ListMemberHistoryRequest(memberId: created.id, pageSize: 2))
            let rest = try await store.listMemberHistory(
                RegistryV1.ListMemberHistoryRequest(memberId: created.id, pageSize: 10, pageToken: paged.nextPageToken))
            #expect((paged.entries + rest.entries).map(\.id) == history.entries.map(\.id))

            // The number is free again once its holder has exited.
            _ = try await Fixtures.create(store, Fixtures.member("吴十再", id: 21))
        }
    }

    @Test("the negative list blocks admission, naming the entry", arguments: Engine.allCases)
    func negativeList(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let pending = try await Fixtures.create(store, Fixtures.member("郑十一", id: 23))
            let added = try await store.addNegativeListEntry(
                RegistryV1.AddNegativeListEntryRequest(
                    requestId: "n-1",
                    entry: RegistryV1.NegativeListEntry(
                        subjectKind: .person, name: "郑十一", residentIdNumber: Fixtures.residentID(23),
                        reason: .dishonestDebtor, basis: "(2026)粤0305执123号", regionCode: "440300")),
                caller: Fixtures.caller)
            let entry = added.entry!
            #expect(added.matchingMemberIds == [pending.id])
            #expect(entry.active)

            let blocked = await expectServiceError {
                try await store.admitMember(
                    RegistryV1.AdmitMemberRequest(memberId: pending.id, version: 1, reason: "认定"), caller: Fixtures.caller)
            }
            guard case .failedPrecondition(let reason, let subject, "NEGATIVE_LIST_MATCH") = blocked else {
                Issue.record("expected NEGATIVE_LIST_MATCH, got \(String(describing: blocked))")
                return
            }
            #expect(subject == "negative list entry \(entry.id)")
            #expect(reason.contains(entry.id))

            let check = try await store.checkNegativeList(
                RegistryV1.CheckNegativeListRequest(
                    subjectKind: .person, residentIdNumber: Fixtures.residentID(23), regionCode: "440305001001"))
            #expect(check.listed)
            let elsewhere = try await store.checkNegativeList(
                RegistryV1.CheckNegativeListRequest(subjectKind: .person, residentIdNumber: Fixtures.residentID(23)))
            #expect(!elsewhere.listed)

            let duplicate = await expectServiceError {
                try await store.addNegativeListEntry(
                    RegistryV1.AddNegativeListEntryRequest(
                        requestId: "n-2",
                        entry: RegistryV1.NegativeListEntry(
                            subjectKind: .person, name: "郑十一", residentIdNumber: Fixtures.residentID(23),
                            reason: .dishonestDebtor, basis: "again", regionCode: "440305")),
                    caller: Fixtures.caller)
            }
            #expect(duplicate == .alreadyExists(resource: "tongxin.registry.v1.NegativeListEntry", name: entry.id))

            _ = try await store.removeNegativeListEntry(
                RegistryV1.RemoveNegativeListEntryRequest(entryId: entry.id, version: 1, removalReason: "判决撤销"),
                caller: Fixtures.caller)
            let admitted = try await store.admitMember(
                RegistryV1.AdmitMemberRequest(memberId: pending.id, version: 1, reason: "认定"), caller: Fixtures.caller)
            #expect(admitted.member?.status == .active)
        }
    }
}

@Suite("Members created concurrently")
struct ConcurrentCreateTests {
    @Test("concurrent creates run as sets: retries, duplicates and rejections fail alone", arguments: Engine.allCases)
    func concurrentCreates(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let barred = try await store.addNegativeListEntry(
                RegistryV1.AddNegativeListEntryRequest(
                    requestId: "n-1",
                    entry: RegistryV1.NegativeListEntry(
                        subjectKind: .person, name: "冯四十", residentIdNumber: Fixtures.residentID(140),
                        reason: .dishonestDebtor, basis: "(2026)粤0305执9号", regionCode: "440305")),
                caller: Fixtures.caller
            ).entry!
            // 60 callers at once: 10 and 11 claim one resident ID number, 20 and 21 send the
            // same request (a retry racing the original), 30 names an unknown region, 40 is on
            // the negative list; the others are plain creates, half of them admitted.
            let outcomes = await withTaskGroup(of: (Int, Result<RegistryV1.Member, ServiceError>).self) { group in
                @Sendable func request(_ index: Int) -> RegistryV1.CreateMemberRequest {
                    let member = Fixtures.member(
                        "成员\(index)", region: index == 30 ? "440306" : index.isMultiple(of: 2) ? "440305001001" : "440304",
                        id: index == 11 ? 110 : 100 + index, specialties: index.isMultiple(of: 3) ? ["法律咨询"] : [])
                    return RegistryV1.CreateMemberRequest(
                        requestId: "req-\(index)", member: member, admit: index.isMultiple(of: 2), reason: "并发")
                }
                for index in 0..<60 {
                    group.addTask {
                        let request = request(index == 21 ? 20 : index)
                        do {
                            return (index, .success(try await store.createMember(request, caller: Fixtures.caller).member!))
                        } catch {
                            return (index, .failure(ServiceError.from(error)))
                        }
                    }
                }
                var outcomes: [Int: Result<RegistryV1.Member, ServiceError>] = [:]
                for await (index, outcome) in group {
                    outcomes[index] = outcome
                }
                return outcomes
            }
            func failure(_ index: Int) -> ServiceError? {
                if case .failure(let error) = outcomes[index] { return error }
                return nil
            }
            let duplicate = [failure(10), failure(11)].compactMap { $0 }
            #expect(duplicate.count == 1)
            if case .alreadyExists(_, let name, "ALREADY_EXISTS")? = duplicate.first {
                #expect(name.hasPrefix("resident_id_number 440305"))
            } else {
                Issue.record("expected ALREADY_EXISTS for the shared resident ID, got \(duplicate)")
            }
            #expect(try outcomes[20]?.get() == outcomes[21]?.get())
            #expect(failure(30) == .notFound(resource: "tongxin.registry.v1.Region", name: "440306"))
            guard case .failedPrecondition(_, let subject, "NEGATIVE_LIST_MATCH")? = failure(40) else {
                Issue.record("expected NEGATIVE_LIST_MATCH, got \(String(describing: outcomes[40]))")
                return
            }
            #expect(subject == "negative list entry \(barred.id)")

            // 60 callers, 3 failures, one retry: 56 members, each with its history and one
            // change event, the feed's sequence without gaps.
            let created = Set(outcomes.values.compactMap { try? $0.get().id })
            #expect(created.count == 56)
            let listed = try await store.listMembers(RegistryV1.ListMembersRequest(pageSize: 100))
            #expect(Set(listed.members.map(\.id)) == created)
            let feed = try await store.changes(after: 0, limit: 1000)
            #expect(feed.events.map(\.sequence) == Array(1...Int64(feed.events.count)))
            let memberEvents = feed.events.filter { $0.entityKind == .member }
            #expect(Set(memberEvents.map(\.entityId)) == created)
            #expect(memberEvents.count == 56)
            for (index, outcome) in outcomes {
                guard case .success(let member) = outcome else { continue }
                let admitted = (index == 21 ? 20 : index).isMultiple(of: 2)
                let history = try await store.listMemberHistory(RegistryV1.ListMemberHistoryRequest(memberId: member.id))
                #expect(history.entries.map(\.eventKind) == (admitted ? [.admitted, .created] : [.created]))
                #expect(member.status == (admitted ? .active : .pending))
            }
            let statistics = try await store.registryStatistics(RegistryV1.GetRegistryStatisticsRequest(regionCode: "440000"))
            let province = statistics.regions.first { $0.region?.regionCode == "440000" }
            let admitted = Set(outcomes.filter { $0.key.isMultiple(of: 2) }.compactMap { try? $0.value.get().id }).count
            #expect(province?.activeMembers == Int32(admitted))
            #expect(province?.pendingMembers == Int32(created.count - admitted))
        }
    }
}

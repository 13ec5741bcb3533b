import Model
import RegistryCore
import ServiceKit
import Testing

@Suite("Organisations, memberships, contact work")
struct OrganisationContactTests {
    static func organisation(
        _ name: String, kind: RegistryV1.OrganisationKind, region: String
    ) -> RegistryV1.Organisation {
        RegistryV1.Organisation(name: name, kind: kind, regionCode: region, contactMobile: "13900139000")
    }

    @Test("organisations, memberships and their history", arguments: Engine.allCases)
    func organisations(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let caller = Fixtures.caller
            let chamber = try await store.createOrganisation(
                RegistryV1.CreateOrganisationRequest(
                    requestId: "o-1", organisation: Self.organisation("南山区商会", kind: .chamberOfCommerce, region: "440305")),
                caller: caller
            ).organisation!
            #expect(chamber.status == .active)
            let retried = try await store.createOrganisation(
                RegistryV1.CreateOrganisationRequest(
                    requestId: "o-1", organisation: Self.organisation("南山区商会", kind: .chamberOfCommerce, region: "440305")),
                caller: caller)
            #expect(retried.organisation == chamber)

            let station = try await store.createOrganisation(
                RegistryV1.CreateOrganisationRequest(
                    requestId: "o-2", organisation: Self.organisation("南头城联络站", kind: .liaisonStation, region: "440305001001")),
                caller: caller
            ).organisation!
            let second = await expectServiceError {
                try await store.createOrganisation(
                    RegistryV1.CreateOrganisationRequest(
                        requestId: "o-3",
                        organisation: Self.organisation("第二联络站", kind: .liaisonStation, region: "440305001001")),
                    caller: caller)
            }
            #expect(second == .alreadyExists(resource: "tongxin.registry.v1.Organisation", name: station.id))
            let wrongLevel = await expectServiceError {
                try await store.createOrganisation(
                    RegistryV1.CreateOrganisationRequest(
                        requestId: "o-4", organisation: Self.organisation("联络站", kind: .liaisonStation, region: "440305")),
                    caller: caller)
            }
            #expect(
                wrongLevel.map { if case .invalidArgument(let field, _, _) = $0 { field } else { "" } }
                    == "organisation.region_code")

            let member = try await Fixtures.create(store, Fixtures.member("褚十三", id: 51), admit: true)
            let pending = try await Fixtures.create(store, Fixtures.member("卫十四", id: 52))
            let membership = try await store.createMembership(
                RegistryV1.CreateMembershipRequest(
                    requestId: "s-1",
                    membership: RegistryV1.Membership(organisationId: chamber.id, memberId: member.id, role: .head)),
                caller: caller
            ).membership!
            #expect(membership.active)
            #expect(membership.organisationName == "南山区商会")
            #expect(membership.memberName == "褚十三")
            let notActive = await expectServiceError {
                try await store.createMembership(
                    RegistryV1.CreateMembershipRequest(
                        requestId: "s-2", membership: RegistryV1.Membership(organisationId: chamber.id, memberId: pending.id)),
                    caller: caller)
            }
            #expect(notActive.map { if case .failedPrecondition(_, _, let code) = $0 { code } else { "" } } == "MEMBER_NOT_ACTIVE")

            var withLeader = chamber
            withLeader.leaderMemberId = member.id
            let led = try await store.updateOrganisation(
                RegistryV1.UpdateOrganisationRequest(
                    organisation: withLeader, updateMask: GoogleProtobuf.FieldMask(paths: ["leader_member_id"])),
                caller: caller
            ).organisation!
            #expect(led.leaderMemberId == member.id)
            #expect(led.activeMemberCount == 1)
            let leaderEnds = await expectServiceError {
                try await store.endMembership(
                    RegistryV1.EndMembershipRequest(membershipId: membership.id, version: 1, endReason: "辞去"), caller: caller)
            }
            #expect(leaderEnds.map { if case .failedPrecondition = $0 { true } else { false } } == true)
            // Nor does the leader exit: no organisation is left led by a member who exited.
            let leaderExits = await expectServiceError {
                try await store.exitMember(
                    RegistryV1.ExitMemberRequest(memberId: member.id, version: 1, exitReason: .voluntary, reason: "本人申请"),
                    caller: caller)
            }
            guard case .failedPrecondition(_, let subject, "INVALID_STATE_TRANSITION") = leaderExits else {
                Issue.record("expected FAILED_PRECONDITION, got \(String(describing: leaderExits))")
                return
            }
            #expect(subject == "organisation \(chamber.id)")
            #expect(try await store.getMember(RegistryV1.GetMemberRequest(memberId: member.id)).member?.status == .active)
            var leaderless = led
            leaderless.leaderMemberId = ""
            _ = try await store.updateOrganisation(
                RegistryV1.UpdateOrganisationRequest(
                    organisation: leaderless, updateMask: GoogleProtobuf.FieldMask(paths: ["leader_member_id"])),
                caller: caller)

            let listed = try await store.listMembers(RegistryV1.ListMembersRequest(organisationId: chamber.id))
            #expect(listed.members.map(\.id) == [member.id])
            let organisations = try await store.listOrganisations(RegistryV1.ListOrganisationsRequest(regionCode: "440305"))
            #expect(organisations.organisations.map(\.name).sorted() == ["南头城联络站", "南山区商会"])

            // Exit ends the member's memberships; dissolution then has none left to end.
            let exited = try await store.exitMember(
                RegistryV1.ExitMemberRequest(memberId: member.id, version: 1, exitReason: .voluntary, reason: "本人申请"),
                caller: caller)
            #expect(exited.member?.status == .exited)
            let memberships = try await store.listMemberships(
                RegistryV1.ListMembershipsRequest(memberId: member.id, includeEnded: true))
            #expect(memberships.memberships.map(\.active) == [false])
            #expect(memberships.memberships.first?.endReason == "本人申请")
            let history = try await store.listMemberHistory(RegistryV1.ListMemberHistoryRequest(memberId: member.id))
            #expect(history.entries.map(\.eventKind) == [.membershipEnded, .exited, .membershipStarted, .admitted, .created])

            let dissolved = try await store.dissolveOrganisation(
                RegistryV1.DissolveOrganisationRequest(organisationId: chamber.id, version: 3, reason: "合并"), caller: caller)
            #expect(dissolved.organisation?.status == .dissolved)
            let organisationHistory = try await store.listOrganisationHistory(
                RegistryV1.ListOrganisationHistoryRequest(organisationId: chamber.id))
            #expect(
                organisationHistory.entries.map(\.eventKind)
                    == [.dissolved, .membershipEnded, .updated, .updated, .membershipStarted, .created])

            let stats = try await store.registryStatistics(RegistryV1.GetRegistryStatisticsRequest(regionCode: "440305"))
            #expect(stats.regions[0].activeOrganisations == 1)
            #expect(stats.regions[0].villagesWithLiaisonStation == 1)
            #expect(stats.regions[0].villagesTotal == 2)
            #expect(stats.regions[0].townshipsWithOrganisation == 1)
            #expect(stats.regions[0].organisationKinds.map(\.kind) == [.liaisonStation])
        }
    }

    @Test("contact records and overdue obligations as of a date", arguments: Engine.allCases)
    func contacts(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let caller = Caller(userID: "cadre-1", displayName: "李干部")
            var input = Fixtures.member("蒋十五", id: 61)
            input.contactCadreId = "cadre-1"
            let member = try await store.createMember(
                RegistryV1.CreateMemberRequest(
                    requestId: "m-61", member: input, admit: true,
                    admissionDate: CommonV1.Date(year: 2026, month: 1, day: 10)),
                caller: caller
            ).member!
            // 2026-03-05 10:00 CST, a phone call.
            let march5 = GoogleProtobuf.Timestamp(seconds: 1_772_676_000)
            let record = try await store.createContactRecord(
                RegistryV1.CreateContactRecordRequest(
                    requestId: "c-1",
                    record: RegistryV1.ContactRecord(
                        memberId: member.id, kind: .monthlyContact, channel: .phone, contactTime: march5,
                        content: "了解企业用工情况", togethers: [.coPlan])),
                caller: caller
            ).record!
            #expect(record.cadreId == "cadre-1")
            #expect(record.memberName == "蒋十五")
            #expect(record.regionCode == "440305001001")

            let withID = await expectServiceError {
                try await store.createContactRecord(
                    RegistryV1.CreateContactRecordRequest(
                        requestId: "c-2",
                        record: RegistryV1.ContactRecord(
                            memberId: member.id, kind: .monthlyContact, channel: .phone, contactTime: march5,
                            content: "身份证 \(Fixtures.residentID(61))")),
                    caller: caller)
            }
            #expect(withID.map { if case .invalidArgument(let field, _, _) = $0 { field } else { "" } } == "record.content")

            let overdue = try await store.listOverdueContacts(
                RegistryV1.ListOverdueContactsRequest(asOfDate: CommonV1.Date(year: 2026, month: 4, day: 10)))
            // Monthly: due 2026-04-05 (5 days); visit: due 2026-07-10 (not yet); summary: due 2027-01-31.
            #expect(overdue.overdueContacts.map(\.kind) == [.monthlyContact])
            #expect(overdue.overdueContacts.first?.daysOverdue == 5)
            #expect(overdue.overdueContacts.first?.dueDate == CommonV1.Date(year: 2026, month: 4, day: 5))
            #expect(overdue.overdueContacts.first?.lastContactTime == march5)

            let later = try await store.listOverdueContacts(
                RegistryV1.ListOverdueContactsRequest(asOfDate: CommonV1.Date(year: 2027, month: 2, day: 1), pageSize: 1))
            #expect(later.totalSize == 3)
            #expect(later.overdueContacts.map(\.kind) == [.monthlyContact])
            let rest = try await store.listOverdueContacts(
                RegistryV1.ListOverdueContactsRequest(
                    asOfDate: CommonV1.Date(year: 2027, month: 2, day: 1), pageSize: 5, pageToken: later.nextPageToken))
            #expect(rest.overdueContacts.map(\.kind) == [.halfYearlyVisit, .yearlySummary])
            #expect(rest.overdueContacts.last?.daysOverdue == 1)

            let listed = try await store.listContactRecords(
                RegistryV1.ListContactRecordsRequest(
                    regionCode: "440305",
                    contactDates: CommonV1.DateRange(
                        startDate: CommonV1.Date(year: 2026, month: 3, day: 5),
                        endDate: CommonV1.Date(year: 2026, month: 3, day: 5))))
            #expect(listed.records.map(\.id) == [record.id])
            let none = try await store.listContactRecords(
                RegistryV1.ListContactRecordsRequest(
                    contactDates: CommonV1.DateRange(startDate: CommonV1.Date(year: 2026, month: 3, day: 6))))
            #expect(none.records.isEmpty)

            let stats = try await store.registryStatistics(
                RegistryV1.GetRegistryStatisticsRequest(
                    regionCode: "440300", year: 2026, asOfDate: CommonV1.Date(year: 2026, month: 4, day: 10)))
            #expect(stats.regions[0].contactRecords == 1)
            #expect(stats.regions[0].membersWithOverdueContact == 1)
            // Corrections: within 90 days of the contact only, and by its cadre.
            var tooOld = record
            tooOld.content = "补记"
            let old = await expectServiceError {
                try await store.updateContactRecord(
                    RegistryV1.UpdateContactRecordRequest(record: tooOld, updateMask: GoogleProtobuf.FieldMask(paths: ["content"])),
                    caller: caller)
            }
            #expect(old.map { if case .failedPrecondition = $0 { true } else { false } } == true)
            let june10 = GoogleProtobuf.Timestamp(seconds: 1_781_056_800)
            let recent = try await store.createContactRecord(
                RegistryV1.CreateContactRecordRequest(
                    requestId: "c-3",
                    record: RegistryV1.ContactRecord(
                        memberId: member.id, kind: .halfYearlyVisit, contactTime: june10, content: "走访企业")),
                caller: caller
            ).record!
            #expect(recent.channel == .inPerson)
            var corrected = recent
            corrected.content = "走访企业，了解融资情况"
            let updated = try await store.updateContactRecord(
                RegistryV1.UpdateContactRecordRequest(record: corrected, updateMask: GoogleProtobuf.FieldMask(paths: ["content"])),
                caller: caller)
            #expect(updated.record?.version == 2)
            #expect(updated.record?.content == "走访企业，了解融资情况")
            // Another cadre's record: only with the supervisor role.
            let stranger = await expectServiceError {
                try await store.updateContactRecord(
                    RegistryV1.UpdateContactRecordRequest(
                        record: updated.record, updateMask: GoogleProtobuf.FieldMask(paths: ["content"])),
                    caller: Caller(userID: "someone-else", roles: CallerRoles([.admission])))
            }
            guard case .permissionDenied(let why, "ROLE_NOT_ALLOWED") = stranger else {
                Issue.record("expected PERMISSION_DENIED ROLE_NOT_ALLOWED, got \(String(describing: stranger))")
                return
            }
            #expect(why.contains("supervisor") && why.contains("admission"))
            let supervised = try await store.updateContactRecord(
                RegistryV1.UpdateContactRecordRequest(
                    record: updated.record, updateMask: GoogleProtobuf.FieldMask(paths: ["content"])),
                caller: Caller(userID: "supervisor-1", roles: CallerRoles([.supervisor])))
            #expect(supervised.record?.version == 3 && supervised.record?.audit?.updatedBy == "supervisor-1")
        }
    }
}

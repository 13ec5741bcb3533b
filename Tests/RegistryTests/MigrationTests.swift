import Foundation
import Model
import RegistryCore
import ServiceKit
import Testing

@Suite("Schema upgrades")
struct MigrationTests {
    /// A registry written under the schema of version 3 reads the same after the later steps
    /// rebuild its tables, and goes on writing where it stopped.
    @Test("an existing registry upgrades in place", arguments: Engine.allCases)
    func upgradeKeepsEverything(engine: Engine) async throws {
        let before = Array(RegistryStore.migrations.prefix { $0.version <= 3 })
        try await withFreshTarget(engine) { target in
            // Under version 3: members (one with specialties and a second category, one
            // admitted), history, changes, written as the code of that version wrote them.
            let old = try await openDatabase(engine, target, migrations: before)
            let store = RegistryStore(database: old, now: Fixtures.noon)
            try await Fixtures.importTree(store)
            var draft = Fixtures.member("张三", id: 1, specialties: ["中医", "书法"])
            draft.additionalCategories = [.religious]
            let first = try await Self.writeAsVersion3(old, draft, id: "m-old-1", admit: false)
            let second = try await Self.writeAsVersion3(
                old, Fixtures.member("李四", region: "440304002000", category: .religious, id: 3), id: "m-old-2",
                admit: true)
            let feedBefore = try await store.changes(after: 0, limit: 1000).events
            let historyBefore = try await store.listMemberHistory(.init(memberId: second.id)).entries
            try await old.close()

            let upgraded = try await openDatabase(engine, target, migrations: RegistryStore.migrations)
            let versions = try await upgraded.read { connection in
                try connection.query("SELECT version FROM schema_migrations ORDER BY version", []).map { $0.int(0) }
            }
            #expect(versions == RegistryStore.migrations.map(\.version))
            let store2 = RegistryStore(database: upgraded, now: Fixtures.noon)
            #expect(try await store2.getMember(.init(memberId: first.id)).member == first)
            #expect(try await store2.getMember(.init(memberId: second.id)).member == second)
            #expect(try await store2.listMemberHistory(.init(memberId: second.id)).entries == historyBefore)
            #expect(try await store2.changes(after: 0, limit: 1000).events == feedBefore)
            let bySpecialty = try await store2.listMembers(.init(regionCode: "440000", specialty: "书法"))
            #expect(bySpecialty.members.map(\.id) == [first.id])
            let byCategory = try await store2.listMembers(.init(regionCode: "440304", category: .religious))
            #expect(byCategory.members.map(\.id) == [second.id])
            // The category tag rows became the mask: a second category is found too.
            let religious = try await store2.listMembers(.init(regionCode: "440000", category: .religious))
            #expect(religious.members.map(\.id) == [second.id, first.id])
            #expect(religious.totalSize == 2)
            let intellectuals = try await store2.listMembers(.init(regionCode: "440000", category: .nonPartyIntellectual))
            #expect(intellectuals.members.map(\.id) == [first.id])
            let active = try await store2.listMembers(.init(regionCode: "440000", status: .active))
            #expect(active.members.map(\.id) == [second.id])

            // Writing goes on: sequences continue, a live resident ID number is still unique.
            let third = try await Fixtures.create(store2, Fixtures.member("王五", id: 5), admit: true)
            let feed = try await store2.changes(after: 0, limit: 1000).events
            #expect(feed.map(\.sequence) == Array(1...Int64(feedBefore.count + 1)))
            #expect(feed.last?.entityId == third.id)
            let history = try await store2.listMemberHistory(.init(memberId: third.id)).entries
            #expect(history.map(\.eventKind) == [.admitted, .created])
            let taken = await expectServiceError { try await Fixtures.create(store2, Fixtures.member("赵六", id: 1)) }
            guard case .alreadyExists(_, _, "ALREADY_EXISTS") = taken else {
                Issue.record("expected ALREADY_EXISTS, got \(String(describing: taken))")
                return
            }
            try await upgraded.close()
        }
    }

    /// Writes `draft` as member `id` the way the code of schema version 3 did: its row with
    /// that version's columns, its category and specialty tag rows, its tallies, a created
    /// (and, when `admit`, an admitted) history entry and a created change event. The
    /// current code writes columns that version did not have.
    private static func writeAsVersion3(
        _ database: any SQLDatabase, _ draft: RegistryV1.Member, id: String, admit: Bool
    ) async throws -> RegistryV1.Member {
        let now = Fixtures.noon()
        let time = GoogleProtobuf.Timestamp(seconds: now / 1_000_000, nanos: 0)
        var member = draft
        member.id = id
        member.status = admit ? .active : .pending
        member.version = 1
        member.audit = CommonV1.AuditInfo(
            createTime: time, updateTime: time, createdBy: Fixtures.caller.userID, updatedBy: Fixtures.caller.userID)
        if admit {
            member.admissionDate = CommonV1.Date(year: 2026, month: 6, day: 15)
        }
        let stored = member
        let regionKey = try RegionCode(validating: member.regionCode).padded12
        try await database.write { connection in
            try connection.insert(
                into: "members",
                [
                    "id", "region_key", "category", "status", "name", "resident_id", "credit_code", "industry_code",
                    "native_key", "contact_cadre_id", "admission_day", "exit_day", "version", "body",
                ],
                rows: [
                    [
                        .text(stored.id), .text(regionKey), .integer(Int64(stored.category.rawValue)),
                        .integer(Int64(stored.status.rawValue)), .text(stored.name), .text(stored.residentIdNumber),
                        .null, .text(stored.industryCode), .text(""), .text(""),
                        admit ? .integer(20_619) : .null, .null, .integer(1), .blob(stored.serializedBytes()),
                    ]
                ])
            let categories = [stored.category] + stored.additionalCategories
            try connection.insert(
                into: "member_tags", ["member_id", "kind", "value"],
                rows: categories.map { [.text(stored.id), .integer(1), .text(String($0.rawValue))] }
                    + stored.specialties.map { [.text(stored.id), .integer(2), .text($0)] })
            var tallies: [[SQLValue]] = [
                [.text(regionKey), .integer(1), .integer(Int64(stored.category.rawValue)),
                 .integer(Int64(stored.status.rawValue)), .integer(1)]
            ]
            if admit {
                tallies += categories.map { [.text(regionKey), .integer(2), .integer(Int64($0.rawValue)), .integer(0), .integer(1)] }
            }
            try connection.insert(
                into: "member_tallies", ["region_key", "kind", "category", "bucket", "n"], rows: tallies,
                suffix: "ON CONFLICT (region_key, kind, category, bucket) DO UPDATE SET n = member_tallies.n + excluded.n")
            var events = [
                RegistryV1.HistoryEntry(
                    memberId: stored.id, eventKind: .created, actorId: Fixtures.caller.userID,
                    actorName: Fixtures.caller.displayName, newMemberStatus: .pending, versionAfter: 1)
            ]
            if admit {
                events.append(
                    RegistryV1.HistoryEntry(
                        memberId: stored.id, eventKind: .admitted, actorId: Fixtures.caller.userID,
                        actorName: Fixtures.caller.displayName, previousMemberStatus: .pending,
                        newMemberStatus: .active, versionAfter: 1))
            }
            for var event in events {
                let sequence = try Self.next(connection, "history")
                event.id = "h-\(stored.id)-\(sequence)"
                event.eventTime = time
                try connection.insert(
                    into: "history", ["id", "seq", "member_id", "organisation_id", "event_kind", "event_us", "body"],
                    rows: [
                        [
                            .text(event.id), .integer(sequence), .text(stored.id), .text(""),
                            .integer(Int64(event.eventKind.rawValue)), .integer(now), .blob(event.serializedBytes()),
                        ]
                    ])
            }
            let sequence = try Self.next(connection, "changes")
            let change = RegistryV1.ChangeEvent(
                sequence: sequence, changeKind: .created, entityKind: .member, entityId: stored.id,
                regionCode: stored.regionCode, changeTime: time, actorId: Fixtures.caller.userID, version: 1,
                member: stored)
            try connection.insert(
                into: "changes",
                ["sequence", "entity_kind", "entity_id", "region_key", "previous_region_key", "change_us", "body"],
                rows: [
                    [
                        .integer(sequence), .integer(Int64(change.entityKind.rawValue)), .text(stored.id),
                        .text(regionKey), .text(""), .integer(now), .blob(change.serializedBytes()),
                    ]
                ])
        }
        return member
    }

    /// The next value of a counter, as the store of every version takes it.
    private static func next(_ connection: any SQLConnection, _ counter: String) throws -> Int64 {
        try connection.queryOne(
            "UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", [.text(counter)])!.int64(0)
    }
}

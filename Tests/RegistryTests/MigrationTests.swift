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
            // Under version 3: members (one with specialties, one admitted), history, changes.
            let old = try await openDatabase(engine, target, migrations: before)
            let store = RegistryStore(database: old, now: Fixtures.noon)
            try await Fixtures.importTree(store)
            let first = try await Fixtures.create(store, Fixtures.member("张三", id: 1, specialties: ["中医", "书法"]))
            let second = try await Fixtures.create(
                store, Fixtures.member("李四", region: "440304002000", category: .religious, id: 3), admit: true)
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
}

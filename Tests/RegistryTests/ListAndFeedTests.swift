import Foundation
import Model
import RegistryCore
import ServiceKit
import Testing

@Suite("Listing, change feed, statistics")
struct ListAndFeedTests {
    @Test("list pages are stable and filters combine", arguments: Engine.allCases)
    func listMembers(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let names = ["陈", "林", "黄", "张", "李", "王", "吴", "刘", "蔡", "杨"]
            var created: [RegistryV1.Member] = []
            for index in 0..<25 {
                let region = ["440305001001", "440305001002", "440304002000"][index % 3]
                let category: RegistryV1.MemberCategory = index % 2 == 0 ? .nonPartyIntellectual : .privateEconomy
                var member = Fixtures.member(
                    names[index % names.count] + "某\(index)", region: region, category: category, id: 100 + index,
                    specialties: index % 5 == 0 ? ["中医"] : [])
                if category == .privateEconomy {
                    member.privateEconomyDetails = RegistryV1.PrivateEconomyDetails(enterpriseName: "企业\(index)")
                }
                if index % 4 == 0 {
                    member.additionalCategories = [.democraticParty]
                }
                created.append(try await Fixtures.create(store, member))
            }
            var seen: [String] = []
            var token = ""
            repeat {
                let page = try await store.listMembers(RegistryV1.ListMembersRequest(pageSize: 7, pageToken: token))
                #expect(page.totalSize == 25)
                #expect(page.members.count <= 7)
                seen += page.members.map(\.id)
                token = page.nextPageToken
            } while !token.isEmpty
            #expect(seen.count == 25)
            #expect(Set(seen) == Set(created.map(\.id)))
            let expectedOrder = created.sorted {
                (RegionKey.of($0.regionCode), $0.name, $0.id) < (RegionKey.of($1.regionCode), $1.name, $1.id)
            }.map(\.id)
            #expect(seen == expectedOrder)

            let nanshan = try await store.listMembers(RegistryV1.ListMembersRequest(regionCode: "440305", pageSize: 100))
            #expect(nanshan.members.count == created.filter { $0.regionCode.hasPrefix("440305") }.count)
            let village = try await store.listMembers(RegistryV1.ListMembersRequest(regionCode: "440305001002"))
            #expect(village.members.allSatisfy { $0.regionCode == "440305001002" })
            let party = try await store.listMembers(RegistryV1.ListMembersRequest(category: .democraticParty))
            #expect(party.totalSize == 7)
            let doctors = try await store.listMembers(RegistryV1.ListMembersRequest(specialty: "中医"))
            #expect(doctors.totalSize == 5)
            let chens = try await store.listMembers(RegistryV1.ListMembersRequest(namePrefix: "陈"))
            #expect(chens.members.map(\.name).sorted() == ["陈某0", "陈某10", "陈某20"])
            let combined = try await store.listMembers(
                RegistryV1.ListMembersRequest(regionCode: "440305", category: .privateEconomy, industryCode: "C"))
            #expect(combined.members.allSatisfy { $0.category == .privateEconomy && $0.regionCode.hasPrefix("440305") })
            let byID = try await store.listMembers(RegistryV1.ListMembersRequest(residentIdNumber: Fixtures.residentID(103)))
            #expect(byID.members.map(\.name) == ["张某3"])

            let first = try await store.listMembers(RegistryV1.ListMembersRequest(pageSize: 5))
            let wrongQuery = await expectServiceError {
                try await store.listMembers(
                    RegistryV1.ListMembersRequest(regionCode: "440305", pageSize: 5, pageToken: first.nextPageToken))
            }
            #expect(
                wrongQuery.map { if case .invalidArgument(_, _, let code) = $0 { code } else { "" } } == "INVALID_PAGE_TOKEN")
            let garbage = await expectServiceError {
                try await store.listMembers(RegistryV1.ListMembersRequest(pageToken: "%%%"))
            }
            #expect(garbage.map { if case .invalidArgument(let field, _, _) = $0 { field } else { "" } } == "page_token")
        }
    }

    @Test("the change feed has every change once, in commit order", arguments: Engine.allCases)
    func changeFeed(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let member = try await Fixtures.create(store, Fixtures.member("冯十二", id: 31))
            _ = try await store.admitMember(
                RegistryV1.AdmitMemberRequest(memberId: member.id, version: 1, reason: "认定"), caller: Fixtures.caller)
            var moved = member
            moved.regionCode = "440304002000"
            moved.version = 2
            _ = try await store.updateMember(
                RegistryV1.UpdateMemberRequest(member: moved, updateMask: GoogleProtobuf.FieldMask(paths: ["region_code"])),
                caller: Fixtures.caller)

            var events: [RegistryV1.ChangeEvent] = []
            var after: Int64 = 0
            while true {
                let page = try await store.changes(after: after, limit: 3)
                if page.scannedThrough == after {
                    break
                }
                events += page.events
                after = page.scannedThrough
            }
            #expect(events.count == 8 + 3)
            #expect(events.map(\.sequence) == Array(1...11))
            #expect(events.prefix(8).allSatisfy { $0.entityKind == .region && $0.changeKind == .created })
            let memberEvents = events.filter { $0.entityKind == .member }
            #expect(memberEvents.map(\.changeKind) == [.created, .statusChanged, .updated])
            #expect(memberEvents.map(\.version) == [1, 2, 3])
            #expect(memberEvents.last?.previousRegionCode == "440305001001")
            #expect(memberEvents.last?.member?.regionCode == "440304002000")

            let futian = try await store.changes(after: 8, limit: 100, entityKinds: [.member], regionCode: "440304")
            #expect(futian.events.map(\.sequence) == [11])
            let nanshan = try await store.changes(after: 8, limit: 100, entityKinds: [.member], regionCode: "440305")
            #expect(nanshan.events.map(\.sequence) == [9, 10, 11])
            let bounds = try await store.changeFeedBounds()
            #expect(bounds.oldest == 1)
            #expect(bounds.latest == 11)
        }
    }

    @Test("pruning drops changes older than the cutoff, oldest first, and keeps the newest", arguments: Engine.allCases)
    func pruneChanges(engine: Engine) async throws {
        let clock = TestClock(Fixtures.noon())
        try await withStore(engine, now: { clock.now }) { store in
            try await Fixtures.importTree(store)
            for index in 0..<3 {
                _ = try await Fixtures.create(store, Fixtures.member("旧\(index)", id: index * 2 + 1))
            }
            let old = try await store.changeFeedBounds().latest
            clock.now += 8 * 86_400_000_000
            _ = try await Fixtures.create(store, Fixtures.member("新0", id: 11))
            _ = try await Fixtures.create(store, Fixtures.member("新1", id: 13))
            let latest = try await store.changeFeedBounds().latest
            #expect(latest == old + 2)

            // Chunks of 4 from the oldest: every change from the first day goes, in several writes.
            let deleted = try await store.pruneChanges(before: Fixtures.noon() + 86_400_000_000, chunk: 4)
            #expect(deleted == Int(old))
            #expect(try await store.changeFeedBounds().oldest == old + 1)
            #expect(try await store.changes(after: 0, limit: 100).events.map(\.sequence) == [old + 1, old + 2])
            // Nothing newer than the cutoff goes; the newest stays even when it is older.
            #expect(try await store.pruneChanges(before: Fixtures.noon()) == 0)
            #expect(try await store.pruneChanges(before: clock.now + 1) == 1)
            let bounds = try await store.changeFeedBounds()
            #expect(bounds.oldest == latest && bounds.latest == latest)
        }
    }

    @Test("idempotency records older than the cutoff are forgotten, oldest first; younger ones still answer retries", arguments: Engine.allCases)
    func pruneIdempotencyRecords(engine: Engine) async throws {
        let clock = TestClock(Fixtures.noon())
        try await withStore(engine, now: { clock.now }) { store in
            try await Fixtures.importTree(store)  // one record (tree-1)
            var early: [String: RegistryV1.Member] = [:]
            for index in 0..<3 {
                early["e-\(index)"] = try await Fixtures.create(store, Fixtures.member("早\(index)"), requestID: "e-\(index)")
            }
            clock.now += 2 * 3_600_000_000
            let late = try await Fixtures.create(store, Fixtures.member("晚"), requestID: "l-0")
            clock.now += 23 * 3_600_000_000

            // 25 hours after the first records, 23 after the last: a 24-hour cutoff forgets
            // the first four (in chunks of 2), not the last.
            #expect(try await store.pruneIdempotencyRecords(before: clock.now - 86_400_000_000, chunk: 2) == 4)
            #expect(try await Fixtures.create(store, Fixtures.member("晚"), requestID: "l-0").id == late.id)
            let reused = try await Fixtures.create(store, Fixtures.member("早0"), requestID: "e-0")
            #expect(reused.id != early["e-0"]?.id)
            #expect(try await store.pruneIdempotencyRecords(before: clock.now - 86_400_000_000) == 0)
        }
    }

    @Test("statistics roll counts up the tree", arguments: Engine.allCases)
    func statistics(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let a = try await Fixtures.create(store, Fixtures.member("甲", region: "440305001001", id: 41), admit: true)
            _ = a
            var b = Fixtures.member("乙", region: "440305001002", category: .privateEconomy, id: 42)
            b.privateEconomyDetails = RegistryV1.PrivateEconomyDetails(enterpriseName: "乙公司")
            b.additionalCategories = [.nonPartyIntellectual]
            _ = try await Fixtures.create(store, b, admit: true)
            _ = try await Fixtures.create(store, Fixtures.member("丙", region: "440304002000", id: 43))
            let d = try await Fixtures.create(store, Fixtures.member("丁", region: "440305", id: 44), admit: true)
            _ = try await store.exitMember(
                RegistryV1.ExitMemberRequest(memberId: d.id, version: 1, exitReason: .voluntary, reason: "本人申请"),
                caller: Fixtures.caller)

            let deep = try await store.registryStatistics(
                RegistryV1.GetRegistryStatisticsRequest(regionCode: "440300", depth: 2))
            #expect(
                deep.regions.map { $0.region?.regionCode ?? "" }
                    == ["440300", "440304", "440304002000", "440305", "440305001000"])
            #expect(deep.regions[4].activeMembers == 2)
            #expect(deep.regions[4].villagesTotal == 2)
            #expect(deep.regions[4].townshipsTotal == 1)
            let response = try await store.registryStatistics(
                RegistryV1.GetRegistryStatisticsRequest(regionCode: "440300", depth: 1))
            #expect(response.regions.map { $0.region?.regionCode ?? "" } == ["440300", "440304", "440305"])
            let city = response.regions[0]
            #expect(city.activeMembers == 2)
            #expect(city.pendingMembers == 1)
            #expect(city.exitedMembers == 1)
            #expect(city.townshipsTotal == 2)
            #expect(city.villagesTotal == 2)
            let intellectual = city.categories.first { $0.category == .nonPartyIntellectual }
            #expect(intellectual?.activeMembers == 1)
            #expect(intellectual?.activeMembersAny == 2)
            #expect(intellectual?.pendingMembers == 1)
            #expect(intellectual?.exitedMembers == 1)
            let nanshan = response.regions[2]
            #expect(nanshan.activeMembers == 2)
            #expect(nanshan.pendingMembers == 0)
            #expect(nanshan.exitedMembers == 1)
            #expect(nanshan.villagesTotal == 2)
            let futian = response.regions[1]
            #expect(futian.pendingMembers == 1)
            #expect(futian.townshipsTotal == 1)

            let province = try await store.registryStatistics(RegistryV1.GetRegistryStatisticsRequest(regionCode: "440000"))
            #expect(province.regions.count == 1)
            #expect(province.regions[0].activeMembers == 2)
        }
    }

    @Test("64 concurrent creates: each acknowledged once, feed gap-free", arguments: Engine.allCases)
    func concurrentCreates(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for index in 0..<64 {
                    group.addTask {
                        // Every create is sent twice at once: the retry must return the same member.
                        let member = Fixtures.member("并发\(index)", id: 500 + index)
                        async let first = Fixtures.create(store, member, requestID: "c-\(index)")
                        async let second = Fixtures.create(store, member, requestID: "c-\(index)")
                        let (one, two) = try await (first, second)
                        #expect(one.id == two.id)
                        return one.id
                    }
                }
                var ids: [String] = []
                for try await id in group {
                    ids.append(id)
                }
                return ids
            }
            #expect(Set(ids).count == 64)
            let list = try await store.listMembers(RegistryV1.ListMembersRequest(pageSize: 500))
            #expect(list.totalSize == 64)
            let feed = try await store.changes(after: 8, limit: 1000)
            #expect(feed.events.map(\.sequence) == Array(9...72))
        }
    }
}

/// Sorting helper mirroring the store's order: 12-digit region key.
enum RegionKey {
    static func of(_ code: String) -> String {
        (try? RegionCode(validating: code))?.padded12 ?? code
    }
}

/// A clock a test moves by hand.
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64

    init(_ value: Int64) {
        self.value = value
    }

    var now: Int64 {
        get { self.lock.withLock { self.value } }
        set { self.lock.withLock { self.value = newValue } }
    }
}

import Model
import ServiceKit

/// CreateMember as a batched write: the creates waiting for one transaction are checked with
/// one `IN (…)` lookup per rule and written with one multi-row statement per table, so 64
/// concurrent creates cost about a dozen statements, not a thousand. A create alone is a
/// batch of one and runs the same code.
///
/// Every item is checked before anything is written and a rejected item writes nothing:
/// the batch contract of ``SQLBatchWrite``.
final class MemberCreation: SQLBatchWrite {
    /// One validated create: everything but what the database must decide.
    struct Item: Sendable {
        var caller: Caller
        var requestID: String
        /// The request as received, to recognise a retry (and a conflicting reuse of its id).
        var requestBytes: [UInt8]
        /// The member as it will be stored (id, status, version and audit set).
        var member: RegistryV1.Member
        var admit: Bool
        var reason: String
        var now: Int64
        var today: Int
    }

    static let method = "CreateMember"

    /// Each create's response, encoded (CreateMemberResponse): the bytes its idempotency
    /// record keeps.
    func run(_ items: [Item], on connection: any SQLConnection) throws -> [Result<[UInt8], any Error>] {
        var outcomes = [Result<[UInt8], any Error>?](repeating: nil, count: items.count)

        // Retries of earlier calls answer with the first result (or conflict), as recorded.
        let earlier = try Self.recorded(connection, items)
        // Within the batch, a second item with the same caller and request id is a retry of
        // the first: it gets the first one's outcome once that is known.
        var firstOfRequest: [RequestKey: Int] = [:]
        var retries: [(index: Int, of: Int)] = []
        var candidates: [Int] = []
        for (index, item) in items.enumerated() {
            let key = RequestKey(caller: item.caller.userID, requestID: item.requestID)
            if let record = earlier[key] {
                outcomes[index] = Result {
                    guard try Self.sameRequest(record.request, item.requestBytes) else {
                        throw ServiceError.alreadyExists(
                            resource: "request_id", name: item.requestID, errorReason: "REQUEST_ID_CONFLICT")
                    }
                    return record.response
                }
            } else if let first = firstOfRequest[key] {
                retries.append((index, first))
            } else {
                firstOfRequest[key] = index
                candidates.append(index)
            }
        }

        // The rules, each checked for the whole batch with one lookup.
        let regions = try Self.regions(connection, codes: candidates.map { items[$0].member.regionCode })
        let takenIDs = try Self.liveResidentIDs(connection, candidates.map { items[$0].member.residentIdNumber })
        let listings = try Self.negativeListEntries(
            connection, candidates.flatMap { RegistryStore.listedIdentifiers(items[$0].member) })
        var claimedIDs: Set<String> = []
        var accepted: [Int] = []
        for index in candidates {
            let item = items[index]
            do {
                try Self.check(item, regions: regions, takenIDs: takenIDs, claimedIDs: claimedIDs, listings: listings)
                if !item.member.residentIdNumber.isEmpty {
                    claimedIDs.insert(item.member.residentIdNumber)
                }
                accepted.append(index)
            } catch {
                outcomes[index] = .failure(error)
            }
        }

        // The writes of every accepted item, a statement per table.
        if !accepted.isEmpty {
            let responses = try Self.store(connection, accepted.map { items[$0] })
            for (index, response) in zip(accepted, responses) {
                outcomes[index] = .success(response)
            }
        }
        for (index, first) in retries {
            outcomes[index] = Result {
                guard try Self.sameRequest(items[index].requestBytes, items[first].requestBytes) else {
                    throw ServiceError.alreadyExists(
                        resource: "request_id", name: items[index].requestID, errorReason: "REQUEST_ID_CONFLICT")
                }
                return try outcomes[first]!.get()
            }
        }
        return outcomes.map { $0! }
    }

    /// Whether two encoded CreateMember requests ask for the same thing: the same bytes, or
    /// (encoded by different clients, or with fields they do not share) the same message.
    private static func sameRequest(_ a: [UInt8], _ b: [UInt8]) throws -> Bool {
        if a == b {
            return true
        }
        return try RegistryStore.decode(RegistryV1.CreateMemberRequest.self, a)
            == RegistryStore.decode(RegistryV1.CreateMemberRequest.self, b)
    }

    /// Throws the error `item` fails with, if any.
    private static func check(
        _ item: Item, regions: [String: Bool], takenIDs: Set<String>, claimedIDs: Set<String>,
        listings: [String: [RegistryV1.NegativeListEntry]]
    ) throws {
        let member = item.member
        try RegistryStore.requireActive(regions[member.regionCode], code: member.regionCode, field: "member.region_code")
        let number = member.residentIdNumber
        if !number.isEmpty && (takenIDs.contains(number) || claimedIDs.contains(number)) {
            throw RegistryStore.residentIDTaken(number)
        }
        try RegistryStore.requireNotListed(member, today: item.today) { listings[$0] ?? [] }
    }

    /// Writes the members, their tags, tallies, history, change events and idempotency
    /// records, and returns each create's encoded response (as its record keeps it).
    private static func store(_ connection: any SQLConnection, _ items: [Item]) throws -> [[UInt8]] {
        var memberRows: [[SQLValue]] = []
        var tagRows: [[SQLValue]] = []
        var tallies: [RegistryStore.Tally: Int64] = [:]
        var history: [(RegistryV1.HistoryEntry, Int64)] = []
        var records: [[SQLValue]] = []
        // Each member is encoded once: its row's body, and inside the response (recorded and
        // returned) and the change event.
        let memberBytes = items.map { $0.member.serializedBytes() }
        // CreateMemberResponse { Member member = 1; }
        let responses = memberBytes.map { ProtoWire.field(1, lengthDelimited: $0) }
        for (index, item) in items.enumerated() {
            let member = item.member
            memberRows.append(RegistryStore.memberRow(member, body: memberBytes[index]))
            tagRows.append(contentsOf: RegistryStore.tagRows(member))
            for tally in RegistryStore.tallies(member) {
                tallies[tally, default: 0] += 1
            }
            let created = RegistryV1.HistoryEntry(
                memberId: member.id, eventKind: .created, actorId: item.caller.userID,
                actorName: item.caller.displayName, reason: item.reason, newMemberStatus: .pending, versionAfter: 1)
            history.append((created, item.now))
            if item.admit {
                history.append(
                    (
                        RegistryV1.HistoryEntry(
                            memberId: member.id, eventKind: .admitted, actorId: item.caller.userID,
                            actorName: item.caller.displayName, reason: item.reason, previousMemberStatus: .pending,
                            newMemberStatus: .active, versionAfter: 1), item.now
                    ))
            }
            records.append([
                .text(item.caller.userID), .text(Self.method), .text(item.requestID), .blob(item.requestBytes),
                .blob(responses[index]), .integer(item.now),
            ])
        }
        try RegistryStore.addTallies(connection, tallies)
        try connection.insert(into: "members", RegistryStore.memberColumns, rows: memberRows)
        try connection.insert(into: "member_tags", ["member_id", "kind", "value"], rows: tagRows)
        // Both sequences in one statement (a round trip fewer on PostgreSQL).
        let first = try RegistryStore.reserve(connection, [("history", history.count), ("changes", items.count)])
        let firstHistory = first[0]
        let firstChange = first[1]
        try connection.insert(
            into: "history", RegistryStore.historyColumns,
            rows: history.enumerated().map { offset, entry in
                RegistryStore.historyRow(entry.0, sequence: firstHistory + Int64(offset), now: entry.1)
            })
        try connection.insert(
            into: "changes", RegistryStore.changeColumns,
            rows: items.enumerated().map { offset, item in
                RegistryStore.changeRow(
                    RegistryV1.ChangeEvent(
                        changeKind: .created, entityKind: .member, entityId: item.member.id,
                        regionCode: item.member.regionCode, actorId: item.caller.userID, version: 1),
                    sequence: firstChange + Int64(offset), now: item.now, memberBytes: memberBytes[offset])
            })
        try connection.insert(into: "idempotency", RegistryStore.idempotencyColumns, rows: records)
        return responses
    }

    // MARK: - Lookups, one statement per chunk of keys

    private struct RequestKey: Hashable {
        var caller: String
        var requestID: String
    }

    private struct Record {
        var request: [UInt8]
        var response: [UInt8]
    }

    /// The live idempotency records of the items' requests. Records older than 24 hours are
    /// forgotten (deleted) and the id may be used again.
    private static func recorded(_ connection: any SQLConnection, _ items: [Item]) throws -> [RequestKey: Record] {
        let wanted = Set(items.map { RequestKey(caller: $0.caller.userID, requestID: $0.requestID) })
        let now = items.map(\.now).max() ?? 0
        var records: [RequestKey: Record] = [:]
        // By caller, so each lookup is a range of the primary key (caller, method, request id).
        let byCaller = Dictionary(grouping: wanted, by: \.caller)
        for caller in byCaller.keys.sorted() {
            for chunk in Self.chunks(byCaller[caller]!.map(\.requestID).sorted()) {
                let rows = try connection.query(
                    """
                    SELECT request_id, request, response, create_us FROM idempotency
                    WHERE caller_id = ? AND method = ? AND request_id IN (\(SQLText.placeholders(chunk.count)))
                    """,
                    [.text(caller), .text(Self.method)] + chunk.map { .text($0) })
                for row in rows {
                    let key = RequestKey(caller: caller, requestID: row.string(0))
                    if row.int64(3) < now - 86_400_000_000 {
                        try connection.execute(
                            "DELETE FROM idempotency WHERE caller_id = ? AND method = ? AND request_id = ?",
                            [.text(caller), .text(Self.method), .text(key.requestID)])
                        continue
                    }
                    records[key] = Record(request: row.bytes(1), response: row.bytes(2))
                }
            }
        }
        return records
    }

    /// Whether each of `codes` that names a region is active (the check needs no more of the
    /// region, so its body is not read and decoded).
    private static func regions(_ connection: any SQLConnection, codes: [String]) throws -> [String: Bool] {
        var active: [String: Bool] = [:]
        for chunk in Self.chunks(Array(Set(codes)).sorted()) {
            for row in try connection.query(
                "SELECT code, active FROM regions WHERE code IN (\(SQLText.placeholders(chunk.count)))", chunk.map { .text($0) })
            {
                active[row.string(0)] = row.int64(1) != 0
            }
        }
        return active
    }

    /// Those of `numbers` held by a live (PENDING, ACTIVE, SUSPENDED) member.
    private static func liveResidentIDs(_ connection: any SQLConnection, _ numbers: [String]) throws -> Set<String> {
        var taken: Set<String> = []
        for chunk in Self.chunks(Array(Set(numbers.filter { !$0.isEmpty })).sorted()) {
            for row in try connection.query(
                "SELECT resident_id FROM members WHERE resident_id IN (\(SQLText.placeholders(chunk.count))) AND status IN (1, 2, 3)",
                chunk.map { .text($0) })
            {
                taken.insert(row.string(0))
            }
        }
        return taken
    }

    /// The negative-list entries of each identifier, oldest first.
    private static func negativeListEntries(
        _ connection: any SQLConnection, _ identifiers: [String]
    ) throws -> [String: [RegistryV1.NegativeListEntry]] {
        var entries: [String: [RegistryV1.NegativeListEntry]] = [:]
        for chunk in Self.chunks(Array(Set(identifiers)).sorted()) {
            for row in try connection.query(
                "SELECT identifier, body FROM negative_list WHERE identifier IN (\(SQLText.placeholders(chunk.count))) ORDER BY create_us, id",
                chunk.map { .text($0) })
            {
                entries[row.string(0), default: []].append(
                    try RegistryStore.decode(RegistryV1.NegativeListEntry.self, row.bytes(1)))
            }
        }
        return entries
    }

    private static func chunks(_ keys: [String]) -> [ArraySlice<String>] {
        stride(from: 0, to: keys.count, by: insertChunk).map { keys[$0..<min(keys.count, $0 + insertChunk)] }
    }
}

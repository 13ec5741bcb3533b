import Foundation
import Model
import Synchronization
import ServiceKit

/// Who is calling: filled by the RPC layer from the call's authentication, never from
/// request fields. The store records it in audit fields, history and the change feed; the
/// service shows it personal data only where it holds the personal-data permission.
public struct Caller: Sendable, Hashable {
    /// The caller's user id.
    public var userID: String
    /// The caller's display name, kept in history entries.
    public var displayName: String
    /// The region subtrees in which the caller may see personal data (resident ID numbers,
    /// mobiles, credit codes, permit numbers, birth dates), as region-key prefixes.
    public var personalDataPrefixes: [String]
    /// The region subtrees the caller works in: records outside them are PERMISSION_DENIED.
    public var scope: RegionScope
    /// The roles the caller holds (the RPCs that need one check it).
    public var roles: CallerRoles

    /// A caller with `userID`, `displayName` (defaults to the id), the personal-data
    /// permission in the subtrees of `personalDataRegions`, working in `scope`.
    public init(
        userID: String, displayName: String? = nil, personalDataRegions: [RegionCode] = [],
        scope: RegionScope = .unrestricted, roles: CallerRoles = .all
    ) {
        self.init(
            userID: userID, displayName: displayName, personalDataPrefixes: Self.prefixes(of: personalDataRegions),
            scope: scope, roles: roles)
    }

    /// A caller whose personal-data subtrees are already region-key prefixes (as
    /// ``personalDataPrefixes`` holds them).
    public init(
        userID: String, displayName: String? = nil, personalDataPrefixes: [String], scope: RegionScope = .unrestricted,
        roles: CallerRoles = .all
    ) {
        self.userID = userID
        self.displayName = displayName ?? userID
        self.personalDataPrefixes = personalDataPrefixes
        self.scope = scope
        self.roles = roles
    }

    /// The region-key prefixes of `regions`' subtrees.
    public static func prefixes(of regions: [RegionCode]) -> [String] {
        regions.map(RegionKeys.prefix)
    }

    /// Whether the caller may see personal data of a record in the region with the 12-digit
    /// key `regionKey` ("" for a record without a region: then only with a permission for a
    /// whole province).
    public func maySeePersonalData(regionKey: String) -> Bool {
        RegionKeys.isWithin(regionKey, prefixes: self.personalDataPrefixes)
    }

    /// Whether the caller may see personal data of a record in region `code`.
    public func maySeePersonalData(regionCode code: String) -> Bool {
        self.maySeePersonalData(regionKey: RegionKeys.key(code))
    }
}

/// The membership registry's behaviour on a ``SQLDatabase``: regions, members and their
/// lifecycle and history, the negative list, statistics and the change feed. Takes and
/// returns the generated `RegistryV1` messages of the RPCs, so the gRPC service is a thin
/// mapping; fails with ``ServiceError`` only.
///
/// Every write runs in one transaction with its history entries, its change-feed events and
/// its idempotency record, and returns once that transaction is on disk.
public final class RegistryStore: Sendable {
    /// The database, opened with ``migrations``.
    public let database: any SQLDatabase

    /// Microseconds since 1970 UTC; the wall clock unless a test sets another.
    let now: @Sendable () -> Int64

    /// The schema's steps, for opening the database: `SQLiteDatabase(path:migrations:)` or
    /// `PostgreSQLDatabase(url:migrations:)`.
    public static var migrations: [Migration] { RegistrySchema.migrations }

    /// A store on `database`, which must have been opened with ``migrations``.
    /// - Parameter now: the clock, microseconds since 1970 UTC.
    public init(database: any SQLDatabase, now: @escaping @Sendable () -> Int64 = WallClock.nowMicroseconds) {
        self.database = database
        self.now = now
    }

    /// Runs `body` in a read transaction, turning every failure into a ``ServiceError``.
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws(ServiceError) -> T {
        do {
            return try await self.database.read(body)
        } catch {
            throw ServiceError.from(error)
        }
    }

    /// Runs `body` in a read transaction whose result waits until everything it saw is
    /// durable (``SQLDatabase/durableRead(_:)``), turning every failure into a ``ServiceError``.
    func durableRead<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws(ServiceError) -> T {
        do {
            return try await self.database.durableRead(body)
        } catch {
            throw ServiceError.from(error)
        }
    }

    /// Runs one lookup statement at the engine's lowest cost (``SQLDatabase/quickQuery(_:_:)``),
    /// turning every failure into a ``ServiceError``.
    func quickQuery(_ sql: String, _ parameters: [SQLValue]) async throws(ServiceError) -> [SQLRow] {
        do {
            return try await self.database.quickQuery(sql, parameters)
        } catch {
            throw ServiceError.from(error)
        }
    }

    /// Runs `body` in a group-committed write, turning every failure into a ``ServiceError``.
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws(ServiceError) -> T {
        do {
            return try await self.database.write(body)
        } catch {
            throw ServiceError.from(error)
        }
    }
}

// MARK: - Shared steps of writes

extension RegistryStore {
    /// A new opaque id: `prefix` and 20 lower-case hex digits, 13 of the wall clock in
    /// microseconds and 7 of ``idSequence``. Ids made later sort later (as UUIDv7 does), so new
    /// rows land at the end of every index keyed by an id instead of on a random page of it: a
    /// batch of creates dirties, and writes to the WAL, a few shared pages rather than one per
    /// row.
    static func newID(_ prefix: String) -> String {
        let time = UInt64(max(0, WallClock.nowMicroseconds())) & 0xF_FFFF_FFFF_FFFF
        let sequence = Self.idSequence.wrappingAdd(1, ordering: .relaxed).oldValue & 0xFFF_FFFF
        let prefixBytes = prefix.utf8
        return String(unsafeUninitializedCapacity: prefixBytes.count + 20) { buffer in
            let start = buffer.initialize(fromContentsOf: prefixBytes)
            // Both as one 80-bit number, its 20 hex digits written from the last.
            for position in 0..<20 {
                let value = position < 7 ? sequence >> (4 * UInt64(position)) : time >> (4 * UInt64(position - 7))
                let nibble = UInt8(truncatingIfNeeded: value) & 0xF
                buffer[start + 19 - position] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble  // 0–9, a–f
            }
            return start + 20
        }
    }

    /// The last 7 hex digits of the ids this process makes: a counter from a random start.
    /// Ids made in the same microsecond by this process always differ, and another process's
    /// (a second server on the same PostgreSQL) differ as often as random digits would; random
    /// digits for every id cost a system call (`getrandom`) each.
    private static let idSequence = Atomic<UInt64>(UInt64.random(in: 0...0xFFF_FFFF))

    /// The response of an earlier call with the same caller, method and request_id, or nil.
    /// - Throws: ``ServiceError/alreadyExists(resource:name:errorReason:)`` with
    ///   REQUEST_ID_CONFLICT when the earlier request differs.
    static func replay(
        _ connection: any SQLConnection, caller: Caller, method: String, requestID: String, request: [UInt8],
        now: Int64
    ) throws -> [UInt8]? {
        guard
            let row = try connection.queryOne(
                "SELECT request, response, create_us FROM idempotency WHERE caller_id = ? AND method = ? AND request_id = ?",
                [.text(caller.userID), .text(method), .text(requestID)])
        else {
            return nil
        }
        // Older than 24 hours: forgotten, the id may be used again.
        if row.int64(2) < now - 86_400_000_000 {
            try connection.execute(
                "DELETE FROM idempotency WHERE caller_id = ? AND method = ? AND request_id = ?",
                [.text(caller.userID), .text(method), .text(requestID)])
            return nil
        }
        guard row.bytes(0) == request else {
            throw ServiceError.alreadyExists(resource: "request_id", name: requestID, errorReason: "REQUEST_ID_CONFLICT")
        }
        return row.bytes(1)
    }

    /// Records `response` as the result of the request, for ``replay(_:caller:method:requestID:request:now:)``.
    static func remember(
        _ connection: any SQLConnection, caller: Caller, method: String, requestID: String, request: [UInt8],
        response: [UInt8], now: Int64
    ) throws {
        try connection.insert(
            into: "idempotency", Self.idempotencyColumns,
            rows: [[.text(caller.userID), .text(method), .text(requestID), .blob(request), .blob(response), .integer(now)]])
    }

    static let idempotencyColumns = ["caller_id", "method", "request_id", "request", "response", "create_us"]

    /// Appends `event` to the change feed, giving it the next sequence number and its time.
    @discardableResult
    static func appendChange(_ connection: any SQLConnection, _ event: RegistryV1.ChangeEvent, now: Int64) throws -> Int64 {
        let sequence = try Self.next(connection, counter: "changes")
        try connection.insert(into: "changes", Self.changeColumns, rows: [Self.changeRow(event, sequence: sequence, now: now)])
        return sequence
    }

    static let changeColumns = [
        "sequence", "entity_kind", "entity_id", "region_key", "previous_region_key", "change_us", "body",
    ]

    /// The `changes` row of `event` with `sequence` and `now` as its time. `memberBytes`, when
    /// given, is the encoded member of an event that carries none: it is appended as the
    /// event's `member` field (11) rather than encoded again.
    static func changeRow(
        _ event: RegistryV1.ChangeEvent, sequence: Int64, now: Int64, memberBytes: [UInt8]? = nil
    ) -> [SQLValue] {
        var event = event
        event.sequence = sequence
        event.changeTime = Timestamps.make(now)
        var body = event.serializedBytes()
        if let memberBytes {
            ProtoWire.appendField(11, lengthDelimited: memberBytes, to: &body)
        }
        return [
            .integer(event.sequence), .integer(Int64(event.entityKind.rawValue)), .text(event.entityId),
            .text(RegionKeys.key(event.regionCode)), .text(RegionKeys.key(event.previousRegionCode)),
            .integer(now), .blob(body),
        ]
    }

    /// Appends `entry` to the history, with a new id and `now` as its time.
    static func appendHistory(_ connection: any SQLConnection, _ entry: RegistryV1.HistoryEntry, now: Int64) throws {
        let sequence = try Self.next(connection, counter: "history")
        try connection.insert(into: "history", Self.historyColumns, rows: [Self.historyRow(entry, sequence: sequence, now: now)])
    }

    static let historyColumns = ["id", "seq", "member_id", "organisation_id", "event_kind", "event_us", "body"]

    /// The `history` row of `entry` with a new id, `sequence`, and `now` as its time.
    static func historyRow(_ entry: RegistryV1.HistoryEntry, sequence: Int64, now: Int64) -> [SQLValue] {
        var entry = entry
        entry.id = Self.newID("h")
        entry.eventTime = Timestamps.make(now)
        return [
            .text(entry.id), .integer(sequence), .text(entry.memberId), .text(entry.organisationId),
            .integer(Int64(entry.eventKind.rawValue)), .integer(now), .blob(entry.serializedBytes()),
        ]
    }

    /// The next value of a counter row (1, 2, 3 …), locked on PostgreSQL until commit.
    static func next(_ connection: any SQLConnection, counter: String) throws -> Int64 {
        try Self.reserve(connection, counter: counter, count: 1)
    }

    /// Advances a counter by `count` and returns the first of the `count` values reserved
    /// (locked on PostgreSQL until commit).
    static func reserve(_ connection: any SQLConnection, counter: String, count: Int) throws -> Int64 {
        try Self.reserve(connection, [(counter, count)])[0]
    }

    /// Advances each of `counters` (distinct names) by its count in one statement, and returns
    /// the first value reserved of each, in order (locked on PostgreSQL until commit).
    static func reserve(_ connection: any SQLConnection, _ counters: [(name: String, count: Int)]) throws -> [Int64] {
        var parameters: [SQLValue] = []
        for counter in counters {
            parameters += [.text(counter.name), .integer(Int64(counter.count))]
        }
        parameters += counters.map { .text($0.name) }
        let rows = try connection.query(
            """
            UPDATE counters SET value = value + CASE name \(Array(repeating: "WHEN ? THEN ?", count: counters.count).joined(separator: " ")) END
            WHERE name IN (\(SQLText.placeholders(counters.count))) RETURNING name, value
            """,
            parameters)
        var values: [String: Int64] = [:]
        for row in rows {
            values[row.string(0)] = row.int64(1)
        }
        return try counters.map { counter in
            guard let value = values[counter.name] else {
                throw ServiceError.internal(cause: "counter \(counter.name) missing")
            }
            return value - Int64(counter.count) + 1
        }
    }

    /// Decodes a stored record.
    static func decode<M: ProtoMessage>(_ type: M.Type, _ bytes: [UInt8]) throws -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw ServiceError.internal(cause: "stored \(M.protoMessageName) does not decode: \(error)")
        }
    }
}

/// Instants as the store keeps them (microseconds since 1970 UTC) and as messages carry them.
enum Timestamps {
    static func make(_ microseconds: Int64) -> GoogleProtobuf.Timestamp {
        let seconds = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let rest = microseconds - seconds * 1_000_000
        return GoogleProtobuf.Timestamp(seconds: seconds, nanos: Int32(rest * 1000))
    }

    static func microseconds(_ timestamp: GoogleProtobuf.Timestamp) -> Int64 {
        timestamp.seconds * 1_000_000 + Int64(timestamp.nanos / 1000)
    }
}

/// Region codes as keys: the 12-digit padded form, and the key range of a subtree.
enum RegionKeys {
    /// The 12-digit key of a valid code, or "" for "" or a malformed code.
    static func key(_ code: String) -> String {
        guard !code.isEmpty, let region = try? RegionCode(validating: code) else {
            return ""
        }
        return region.padded12
    }

    /// The significant digits of a region's subtree: 2 for a province, 4 for a city, 6 for a
    /// county, 9 for a township, 12 for a village.
    static func prefixLength(_ level: RegionLevel) -> Int {
        switch level {
        case .province:
            return 2
        case .city:
            return 4
        case .county:
            return 6
        case .township:
            return 9
        case .village:
            return 12
        }
    }

    /// The inclusive key range of `region`'s subtree.
    static func subtree(_ region: RegionCode) -> (low: String, high: String) {
        let prefix = String(region.padded12.prefix(Self.prefixLength(region.level)))
        let rest = 12 - prefix.count
        return (prefix + String(repeating: "0", count: rest), prefix + String(repeating: "9", count: rest))
    }

    /// The shorter subtree prefix of `region` (its significant digits).
    static func prefix(_ region: RegionCode) -> String {
        String(region.padded12.prefix(Self.prefixLength(region.level)))
    }

    /// Whether the region key (or subtree prefix) `key` lies in one of the subtrees with the
    /// prefixes `prefixes`; "" (a record without a region) lies only in a whole province.
    static func isWithin(_ key: String, prefixes: [String]) -> Bool {
        key.isEmpty ? prefixes.contains { $0.count == 2 } : prefixes.contains { key.hasPrefix($0) }
    }
}

/// Calendar days as numbers (days since 1970-01-01), for the dates the store compares.
enum Days {
    /// Howard Hinnant's days_from_civil.
    static func number(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func number(_ date: CommonV1.Date) -> Int {
        Self.number(year: Int(date.year), month: Int(date.month), day: Int(date.day))
    }

    /// civil_from_days.
    static func date(_ days: Int) -> CommonV1.Date {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return CommonV1.Date(year: Int32(year), month: Int32(month), day: Int32(day))
    }

    /// The day number in China Standard Time at `microseconds` since 1970 UTC.
    static func today(_ microseconds: Int64) -> Int {
        let seconds = Int(microseconds / 1_000_000) + CalendarDate.chinaStandardTimeOffset
        return seconds >= 0 ? seconds / 86_400 : -((-seconds + 86_399) / 86_400)
    }

    /// Whether `date` names a real day in 1900–2200.
    static func isValid(_ date: CommonV1.Date) -> Bool {
        (1900...2200).contains(date.year)
            && (try? CalendarDate(year: Int(date.year), month: Int(date.month), day: Int(date.day))) != nil
    }
}

import Model
import ServiceKit

extension RegistryStore {
    /// ListOverdueContacts: obligations overdue as of a date (rules in OverdueContact), most
    /// days overdue first, then by member id and kind.
    /// - Throws: INVALID_ARGUMENT (as_of_date, filters, page_size or page_token).
    public func listOverdueContacts(
        _ request: RegistryV1.ListOverdueContactsRequest
    ) async throws(ServiceError) -> RegistryV1.ListOverdueContactsResponse {
        let pageSize = try Validate.pageSize(request.pageSize)
        try Validate.date(request.asOfDate, "as_of_date")
        let asOf = request.asOfDate.map(Days.number) ?? Days.today(self.now())
        let range = request.regionCode.isEmpty
            ? nil : RegionKeys.subtree(try Validate.regionCode(request.regionCode, "region_code"))
        for (index, kind) in request.kinds.enumerated() where !Validate.known(kind) {
            throw Validate.invalid("kinds[\(index)]", "not a contact kind")
        }
        var filter = request
        filter.pageSize = 0
        filter.pageToken = ""
        if filter.asOfDate == nil {
            filter.asOfDate = Days.date(asOf)
        }
        let fingerprint = PageToken.fingerprint(["overdue", String(decoding: filter.serializedBytes(), as: UTF8.self)])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 3)
        let kinds = Set(request.kinds)
        let cadre = request.cadreId
        let category = request.category
        return try await self.read { connection in
            var all = try Self.overdue(connection, asOf: asOf, range: range, cadreID: cadre, category: category)
            if !kinds.isEmpty {
                all = all.filter { kinds.contains($0.kind) }
            }
            var response = RegistryV1.ListOverdueContactsResponse(totalSize: Int32(all.count))
            var remaining = all[...]
            if let after {
                let key = (-(Int(after[0]) ?? 0), after[1], Int32(after[2]) ?? 0)
                remaining = all.drop { (-Int($0.daysOverdue), $0.memberId, $0.kind.rawValue) <= key }
            }
            response.overdueContacts = Array(remaining.prefix(pageSize))
            if remaining.count > pageSize, let last = response.overdueContacts.last {
                response.nextPageToken = PageToken.encode(
                    fingerprint: fingerprint,
                    keys: [String(last.daysOverdue), last.memberId, String(last.kind.rawValue)])
            }
            return response
        }
    }

    /// Every overdue obligation of ACTIVE members with a contact cadre, sorted most overdue
    /// first, then by member id and kind. Records dated after `asOf` do not count.
    static func overdue(
        _ connection: any SQLConnection, asOf: Int, range: (low: String, high: String)?, cadreID: String,
        category: RegistryV1.MemberCategory
    ) throws -> [RegistryV1.OverdueContact] {
        var conditions = ["m.status = 2", "m.contact_cadre_id <> ''"]
        var parameters: [SQLValue] = []
        if let range {
            conditions.append("m.region_key BETWEEN ? AND ?")
            parameters += [.text(range.low), .text(range.high)]
        }
        if !cadreID.isEmpty {
            conditions.append("m.contact_cadre_id = ?")
            parameters.append(.text(cadreID))
        }
        if category != .unspecified {
            conditions.append("m.category = ?")
            parameters.append(.integer(Int64(category.rawValue)))
        }
        let filter = conditions.joined(separator: " AND ")
        struct Last {
            var monthly: Int64?
            var visit: Int64?
            var summary: Int64?
            var summaryYear: Int?
        }
        var last: [String: Last] = [:]
        for row in try connection.query(
            """
            SELECT c.member_id, c.kind, MAX(c.contact_us), MAX(c.summary_year) FROM contacts c
            JOIN members m ON m.id = c.member_id
            WHERE \(filter) AND c.contact_us < ?
            GROUP BY c.member_id, c.kind
            """, parameters + [.integer(Days.startMicroseconds(asOf + 1))])
        {
            var entry = last[row.string(0)] ?? Last()
            switch RegistryV1.ContactKind(rawValue: Int32(row.int64(1))) {
            case .monthlyContact:
                entry.monthly = row.int64(2)
            case .halfYearlyVisit:
                entry.visit = row.int64(2)
            case .yearlySummary:
                entry.summary = row.int64(2)
                entry.summaryYear = row.int(3)
            default:
                break
            }
            last[row.string(0)] = entry
        }
        var result: [RegistryV1.OverdueContact] = []
        for row in try connection.query(
            "SELECT m.id, m.admission_day, m.body FROM members m WHERE \(filter)", parameters)
        {
            guard !row.isNull(1) else {
                continue
            }
            let member = try Self.decode(RegistryV1.Member.self, row.bytes(2))
            let admission = row.int(1)
            let history = last[member.id] ?? Last()
            func add(_ kind: RegistryV1.ContactKind, due: Int, lastTime: Int64?) {
                guard asOf > due else {
                    return
                }
                result.append(
                    RegistryV1.OverdueContact(
                        memberId: member.id, memberName: member.name, regionCode: member.regionCode,
                        category: member.category, cadreId: member.contactCadreId, cadreName: member.contactCadreName,
                        kind: kind, lastContactTime: lastTime.map(Timestamps.make), dueDate: Days.date(due),
                        daysOverdue: Int32(asOf - due)))
            }
            let lastMonthly = [history.monthly, history.visit].compactMap { $0 }.max()
            let monthlyBase = max(lastMonthly.map { Days.today($0) } ?? admission, admission)
            add(.monthlyContact, due: Days.addingMonths(1, to: monthlyBase), lastTime: lastMonthly)
            let visitBase = max(history.visit.map { Days.today($0) } ?? admission, admission)
            add(.halfYearlyVisit, due: Days.addingMonths(6, to: visitBase), lastTime: history.visit)
            let admissionYear = Int(Days.date(admission).year)
            let nextYear = max(history.summaryYear.map { $0 + 1 } ?? admissionYear, admissionYear)
            add(.yearlySummary, due: Days.number(year: nextYear + 1, month: 1, day: 31), lastTime: history.summary)
        }
        return result.sorted {
            (-Int($0.daysOverdue), $0.memberId, $0.kind.rawValue) < (-Int($1.daysOverdue), $1.memberId, $1.kind.rawValue)
        }
    }
}

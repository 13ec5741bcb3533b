import Model
import ServiceKit

extension RegistryStore {
    /// The paths UpdateContactRecord accepts.
    static let contactUpdatablePaths: Set<String> = [
        "channel", "contact_time", "content", "suggestions", "togethers", "follow_up_required", "follow_up",
    ]

    /// CreateContactRecord. A repeated request_id returns the first result.
    /// - Throws: INVALID_ARGUMENT (kind, channel for the kind, time missing or in the future,
    ///   content empty or holding an ID number, summary_year); NOT_FOUND (member);
    ///   ALREADY_EXISTS (a yearly summary for the member and year; request_id conflict);
    ///   FAILED_PRECONDITION (member PENDING, EXITED or REJECTED).
    public func createContactRecord(
        _ request: RegistryV1.CreateContactRecordRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.CreateContactRecordResponse {
        try Validate.requestID(request.requestId)
        guard var record = request.record else {
            throw Validate.invalid("record", "required")
        }
        guard !record.memberId.isEmpty else {
            throw Validate.invalid("record.member_id", "required")
        }
        let now = self.now()
        if record.cadreId.isEmpty {
            record.cadreId = caller.userID
        }
        record = try Self.validatedContact(record, field: "record", now: now)
        record.id = Self.newID("c")
        record.version = 1
        record.audit = CommonV1.AuditInfo(
            createTime: Timestamps.make(now), updateTime: Timestamps.make(now), createdBy: caller.userID,
            updatedBy: caller.userID)
        if record.cadreId == caller.userID {
            record.cadreName = caller.displayName
        }
        let requestBytes = request.serializedBytes()
        let input = record
        return try await self.write { connection in
            if let previous = try Self.replay(
                connection, caller: caller, method: "CreateContactRecord", requestID: request.requestId,
                request: requestBytes, now: now)
            {
                return try Self.decode(RegistryV1.CreateContactRecordResponse.self, previous)
            }
            let member = try Self.requireMember(connection, id: input.memberId, caller: caller)
            guard member.status == .active || member.status == .suspended else {
                throw ServiceError.failedPrecondition(
                    reason: "the member is \(member.status); contact records need ACTIVE or SUSPENDED",
                    subject: "member \(member.id)", errorReason: "MEMBER_NOT_ACTIVE")
            }
            var record = input
            record.memberName = member.name
            record.regionCode = member.regionCode
            if record.kind == .yearlySummary,
                let other = try connection.queryOne(
                    "SELECT id FROM contacts WHERE member_id = ? AND kind = 3 AND summary_year = ?",
                    [.text(member.id), .integer(Int64(record.summaryYear))])
            {
                throw ServiceError.alreadyExists(resource: "tongxin.registry.v1.ContactRecord", name: other.string(0))
            }
            try Self.storeContact(connection, record, isNew: true)
            let response = RegistryV1.CreateContactRecordResponse(record: record)
            try Self.remember(
                connection, caller: caller, method: "CreateContactRecord", requestID: request.requestId,
                request: requestBytes, response: response.serializedBytes(), now: now)
            return response
        }
    }

    /// UpdateContactRecord: corrections within 90 days of the contact, by its cadre or a
    /// caller with the supervisor role.
    /// - Throws: INVALID_ARGUMENT (mask, values); NOT_FOUND; ABORTED; FAILED_PRECONDITION
    ///   (older than 90 days); PERMISSION_DENIED (outside the caller's scope; neither its
    ///   cadre nor a supervisor).
    public func updateContactRecord(
        _ request: RegistryV1.UpdateContactRecordRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.UpdateContactRecordResponse {
        guard let input = request.record, !input.id.isEmpty else {
            throw Validate.invalid("record.id", "required")
        }
        try Validate.version(input.version, "record.version")
        let paths = Array(Set(request.updateMask?.paths ?? [])).sorted()
        guard !paths.isEmpty else {
            throw Validate.invalid("update_mask", "must name at least one path", "INVALID_UPDATE_MASK")
        }
        for path in paths where !Self.contactUpdatablePaths.contains(path) {
            throw Validate.invalid("update_mask.paths", "\"\(path)\" cannot be updated", "INVALID_UPDATE_MASK")
        }
        let now = self.now()
        return try await self.write { connection in
            guard let row = try connection.queryOne("SELECT body FROM contacts WHERE id = ?", [.text(input.id)]) else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.ContactRecord", name: input.id)
            }
            var record = try Self.decode(RegistryV1.ContactRecord.self, row.bytes(0))
            try caller.scope.require(regionCode: record.regionCode, of: "record \(record.id)")
            guard record.version == input.version else {
                throw ServiceError.aborted(currentVersion: record.version)
            }
            if record.cadreId != caller.userID {
                try caller.roles.require(.supervisor, for: "correcting another cadre's contact record")
            }
            let contactDay = Days.today(record.contactTime.map(Timestamps.microseconds) ?? now)
            guard Days.today(now) - contactDay <= 90 else {
                throw ServiceError.failedPrecondition(
                    reason: "records can be corrected within 90 days of the contact", subject: "record \(record.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            for path in paths {
                switch path {
                case "channel": record.channel = input.channel
                case "contact_time": record.contactTime = input.contactTime
                case "content": record.content = input.content
                case "suggestions": record.suggestions = input.suggestions
                case "togethers": record.togethers = input.togethers
                case "follow_up_required": record.followUpRequired = input.followUpRequired
                case "follow_up": record.followUp = input.followUp
                default: break
                }
            }
            record = try Self.validatedContact(record, field: "record", now: now)
            record.version += 1
            record.audit?.updateTime = Timestamps.make(now)
            record.audit?.updatedBy = caller.userID
            try Self.storeContact(connection, record, isNew: false)
            return RegistryV1.UpdateContactRecordResponse(record: record)
        }
    }

    /// ListContactRecords, newest contact first.
    /// - Throws: INVALID_ARGUMENT (malformed filter, bad page_size or page_token).
    public func listContactRecords(
        _ request: RegistryV1.ListContactRecordsRequest
    ) async throws(ServiceError) -> RegistryV1.ListContactRecordsResponse {
        let pageSize = try Validate.pageSize(request.pageSize)
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if !request.regionCode.isEmpty {
            let (low, high) = RegionKeys.subtree(try Validate.regionCode(request.regionCode, "region_code"))
            conditions.append("region_key BETWEEN ? AND ?")
            parameters += [.text(low), .text(high)]
        }
        if !request.memberId.isEmpty {
            conditions.append("member_id = ?")
            parameters.append(.text(request.memberId))
        }
        if !request.cadreId.isEmpty {
            conditions.append("cadre_id = ?")
            parameters.append(.text(request.cadreId))
        }
        if request.kind != .unspecified {
            conditions.append("kind = ?")
            parameters.append(.integer(Int64(request.kind.rawValue)))
        }
        if let range = request.contactDates {
            try Validate.date(range.startDate, "contact_dates.start_date")
            try Validate.date(range.endDate, "contact_dates.end_date")
            if let start = range.startDate, let end = range.endDate, Days.number(end) < Days.number(start) {
                throw Validate.invalid("contact_dates.end_date", "must not be before start_date")
            }
            if let start = range.startDate {
                conditions.append("contact_us >= ?")
                parameters.append(.integer(Days.startMicroseconds(Days.number(start))))
            }
            if let end = range.endDate {
                conditions.append("contact_us < ?")
                parameters.append(.integer(Days.startMicroseconds(Days.number(end) + 1)))
            }
        }
        var filter = request
        filter.pageSize = 0
        filter.pageToken = ""
        let fingerprint = PageToken.fingerprint(["contacts", String(decoding: filter.serializedBytes(), as: UTF8.self)])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 2)
        let filterConditions = conditions
        let filterParameters = parameters
        return try await self.read { connection in
            var conditions = filterConditions
            var parameters = filterParameters
            if let after {
                conditions.append("(contact_us, id) < (?, ?)")
                parameters += [.integer(Int64(after[0]) ?? 0), .text(after[1])]
            }
            var sql = "SELECT contact_us, id, body FROM contacts"
            if !conditions.isEmpty {
                sql += " WHERE " + conditions.joined(separator: " AND ")
            }
            sql += " ORDER BY contact_us DESC, id DESC LIMIT ?"
            parameters.append(.int(pageSize + 1))
            let rows = try connection.query(sql, parameters)
            var response = RegistryV1.ListContactRecordsResponse()
            for row in rows.prefix(pageSize) {
                response.records.append(try Self.decode(RegistryV1.ContactRecord.self, row.bytes(2)))
            }
            if rows.count > pageSize {
                let last = rows[pageSize - 1]
                response.nextPageToken = PageToken.encode(
                    fingerprint: fingerprint, keys: [String(last.int64(0)), last.string(1)])
            }
            return response
        }
    }

    // MARK: - Rules and rows

    static func validatedContact(
        _ record: RegistryV1.ContactRecord, field: String, now: Int64
    ) throws(ServiceError) -> RegistryV1.ContactRecord {
        var record = record
        guard Validate.known(record.kind) else {
            throw Validate.invalid("\(field).kind", "required: MONTHLY_CONTACT, HALF_YEARLY_VISIT or YEARLY_SUMMARY")
        }
        switch record.kind {
        case .monthlyContact:
            guard Validate.known(record.channel) else {
                throw Validate.invalid("\(field).channel", "required for a monthly contact")
            }
        case .halfYearlyVisit:
            if record.channel == .unspecified {
                record.channel = .inPerson
            }
            guard record.channel == .inPerson else {
                throw Validate.invalid("\(field).channel", "a half-yearly visit is IN_PERSON")
            }
        default:
            record.channel = .unspecified
        }
        guard let time = record.contactTime else {
            throw Validate.invalid("\(field).contact_time", "required")
        }
        guard Timestamps.microseconds(time) <= now else {
            throw Validate.invalid("\(field).contact_time", "must not be in the future")
        }
        if record.kind == .yearlySummary {
            guard (1900...2200).contains(record.summaryYear) else {
                throw Validate.invalid("\(field).summary_year", "required for a yearly summary")
            }
        } else {
            record.summaryYear = 0
        }
        try Validate.text(record.content, "\(field).content", 1...4000)
        if Self.containsResidentID(record.content) {
            throw Validate.invalid("\(field).content", "must not contain resident ID numbers")
        }
        try Validate.text(record.suggestions, "\(field).suggestions", 0...2000)
        try Validate.text(record.followUp, "\(field).follow_up", 0...2000)
        var togethers: Set<Int32> = []
        for (index, together) in record.togethers.enumerated() {
            guard Validate.known(together), togethers.insert(together.rawValue).inserted else {
                throw Validate.invalid("\(field).togethers[\(index)]", "unknown or repeated")
            }
        }
        try Validate.text(record.cadreId, "\(field).cadre_id", 1...64)
        return record
    }

    /// Whether `text` holds 18 consecutive characters that pass as a resident ID number.
    static func containsResidentID(_ text: String) -> Bool {
        let characters = Array(text)
        guard characters.count >= 18 else {
            return false
        }
        for start in 0...(characters.count - 18) where characters[start].isASCII && characters[start].isNumber {
            if (try? ResidentIDNumber(validating: String(characters[start..<start + 18]))) != nil {
                return true
            }
        }
        return false
    }

    static func storeContact(_ connection: any SQLConnection, _ record: RegistryV1.ContactRecord, isNew: Bool) throws {
        let values: [SQLValue] = [
            .text(record.memberId), .text(RegionKeys.key(record.regionCode)), .text(record.cadreId),
            .integer(Int64(record.kind.rawValue)), .integer(record.contactTime.map(Timestamps.microseconds) ?? 0),
            .integer(Int64(record.summaryYear)), .integer(record.version), .blob(record.serializedBytes()),
            .text(record.id),
        ]
        if isNew {
            try connection.execute(
                """
                INSERT INTO contacts (member_id, region_key, cadre_id, kind, contact_us, summary_year, version, body, id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, values)
        } else {
            try connection.execute(
                """
                UPDATE contacts SET member_id = ?, region_key = ?, cadre_id = ?, kind = ?, contact_us = ?,
                    summary_year = ?, version = ?, body = ?
                WHERE id = ?
                """, values)
        }
    }
}

extension Days {
    /// Microseconds since 1970 UTC at the start of day `day` in China Standard Time.
    static func startMicroseconds(_ day: Int) -> Int64 {
        (Int64(day) * 86_400 - Int64(CalendarDate.chinaStandardTimeOffset)) * 1_000_000
    }

    /// The day `months` calendar months after `day`, clamped to the end of a shorter month.
    static func addingMonths(_ months: Int, to day: Int) -> Int {
        let date = Self.date(day)
        let total = Int(date.year) * 12 + Int(date.month) - 1 + months
        let year = total / 12
        let month = total % 12 + 1
        return Self.number(year: year, month: month, day: min(Int(date.day), CalendarDate.daysInMonth(month, year: year)))
    }
}

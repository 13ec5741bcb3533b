import Model
import ServiceKit

extension RegistryStore {
    /// AddNegativeListEntry: adds an entry and returns the live members it matches (they are
    /// not changed). A repeated request_id returns the first result.
    /// - Throws: INVALID_ARGUMENT (subject kind, identifier, reason, basis, dates, region);
    ///   NOT_FOUND (region); ALREADY_EXISTS (an active entry for the same identifier in an
    ///   overlapping subtree; request_id conflict).
    public func addNegativeListEntry(
        _ request: RegistryV1.AddNegativeListEntryRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.AddNegativeListEntryResponse {
        try caller.roles.require(.negativeList, for: "AddNegativeListEntry")
        try Validate.requestID(request.requestId)
        guard var entry = request.entry else {
            throw Validate.invalid("entry", "required")
        }
        let now = self.now()
        let today = Days.today(now)
        let identifier: String
        switch entry.subjectKind {
        case .person:
            identifier = try Validate.residentID(entry.residentIdNumber, "entry.resident_id_number", today: today).value
            entry.residentIdNumber = identifier
            entry.unifiedSocialCreditCode = ""
        case .enterprise:
            identifier = try Validate.creditCode(entry.unifiedSocialCreditCode, "entry.unified_social_credit_code")
            entry.unifiedSocialCreditCode = identifier
            entry.residentIdNumber = ""
        default:
            throw Validate.invalid("entry.subject_kind", "required: PERSON or ENTERPRISE")
        }
        try Validate.text(entry.name, "entry.name", 1...128)
        guard Validate.known(entry.reason) else {
            throw Validate.invalid("entry.reason", "required")
        }
        try Validate.text(entry.basis, "entry.basis", 1...512)
        let region = try Validate.regionCode(entry.regionCode, "entry.region_code")
        try caller.scope.requireCovers(region, of: "entry.region_code \(region.code)")
        entry.regionCode = region.code
        try Validate.date(entry.effectiveDate, "entry.effective_date")
        try Validate.date(entry.expiryDate, "entry.expiry_date")
        let effective = entry.effectiveDate.map(Days.number) ?? today
        entry.effectiveDate = Days.date(effective)
        if let expiry = entry.expiryDate.map(Days.number), expiry < effective {
            throw Validate.invalid("entry.expiry_date", "must not be before effective_date")
        }
        entry.id = Self.newID("n")
        entry.removeTime = nil
        entry.removedBy = ""
        entry.removalReason = ""
        entry.personalDataMasked = false
        entry.version = 1
        entry.audit = CommonV1.AuditInfo(
            createTime: Timestamps.make(now), updateTime: Timestamps.make(now), createdBy: caller.userID,
            updatedBy: caller.userID)
        entry.active = Self.isActive(entry, today: today)
        let requestBytes = request.serializedBytes()
        let added = entry
        return try await self.write { connection in
            if let previous = try Self.replay(
                connection, caller: caller, method: "AddNegativeListEntry", requestID: request.requestId,
                request: requestBytes, now: now)
            {
                return try Self.decode(RegistryV1.AddNegativeListEntryResponse.self, previous)
            }
            guard try Self.fetchRegion(connection, code: added.regionCode) != nil else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Region", name: added.regionCode)
            }
            let prefix = RegionKeys.prefix(region)
            for other in try Self.entries(connection, identifier: identifier) where Self.isActive(other, today: today) {
                let otherPrefix = RegionKeys.prefix(try Validate.regionCode(other.regionCode, "entry.region_code"))
                if prefix.hasPrefix(otherPrefix) || otherPrefix.hasPrefix(prefix) {
                    throw ServiceError.alreadyExists(resource: "tongxin.registry.v1.NegativeListEntry", name: other.id)
                }
            }
            try connection.execute(
                """
                INSERT INTO negative_list (id, subject_kind, identifier, region_key, name, effective_day, expiry_day,
                    removed, create_us, version, body)
                VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 1, ?)
                """,
                [
                    .text(added.id), .integer(Int64(added.subjectKind.rawValue)), .text(identifier),
                    .text(region.padded12), .text(added.name), .int(effective),
                    added.expiryDate.map { .int(Days.number($0)) } ?? .null, .integer(now),
                    .blob(added.serializedBytes()),
                ])
            let column = added.subjectKind == .person ? "resident_id" : "credit_code"
            let (low, high) = RegionKeys.subtree(region)
            let rows = try connection.query(
                """
                SELECT id FROM members WHERE \(column) = ? AND status IN (1, 2, 3) AND region_key BETWEEN ? AND ?
                ORDER BY id
                """, [.text(identifier), .text(low), .text(high)])
            let response = RegistryV1.AddNegativeListEntryResponse(entry: added, matchingMemberIds: rows.map { $0.string(0) })
            try Self.remember(
                connection, caller: caller, method: "AddNegativeListEntry", requestID: request.requestId,
                request: requestBytes, response: response.serializedBytes(), now: now)
            return response
        }
    }

    /// RemoveNegativeListEntry: the entry stays, inactive, with who, when and why.
    /// - Throws: INVALID_ARGUMENT (removal_reason empty); NOT_FOUND; ABORTED;
    ///   FAILED_PRECONDITION (already removed).
    public func removeNegativeListEntry(
        _ request: RegistryV1.RemoveNegativeListEntryRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.RemoveNegativeListEntryResponse {
        try caller.roles.require(.negativeList, for: "RemoveNegativeListEntry")
        guard !request.entryId.isEmpty else {
            throw Validate.invalid("entry_id", "required")
        }
        try Validate.version(request.version)
        try Validate.text(request.removalReason, "removal_reason", 1...512)
        let now = self.now()
        return try await self.write { connection in
            guard let row = try connection.queryOne("SELECT body FROM negative_list WHERE id = ?", [.text(request.entryId)])
            else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.NegativeListEntry", name: request.entryId)
            }
            var entry = try Self.decode(RegistryV1.NegativeListEntry.self, row.bytes(0))
            // An entry bars its whole subtree: removing it takes that subtree in the caller's scope.
            try caller.scope.requireCovers(try? RegionCode(validating: entry.regionCode), of: "negative list entry \(entry.id)")
            guard entry.version == request.version else {
                throw ServiceError.aborted(currentVersion: entry.version)
            }
            guard entry.removeTime == nil else {
                throw ServiceError.failedPrecondition(
                    reason: "already removed", subject: "negative list entry \(entry.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            entry.removeTime = Timestamps.make(now)
            entry.removedBy = caller.userID
            entry.removalReason = request.removalReason
            entry.active = false
            entry.version += 1
            entry.audit?.updateTime = Timestamps.make(now)
            entry.audit?.updatedBy = caller.userID
            try connection.execute(
                "UPDATE negative_list SET removed = 1, version = ?, body = ? WHERE id = ?",
                [.integer(entry.version), .blob(entry.serializedBytes()), .text(entry.id)])
            return RegistryV1.RemoveNegativeListEntryResponse(entry: entry)
        }
    }

    /// CheckNegativeList: the active entries barring a person or enterprise in a region.
    /// - Throws: INVALID_ARGUMENT (subject kind, identifier, region code).
    public func checkNegativeList(
        _ request: RegistryV1.CheckNegativeListRequest
    ) async throws(ServiceError) -> RegistryV1.CheckNegativeListResponse {
        let today = Days.today(self.now())
        let identifier: String
        switch request.subjectKind {
        case .person:
            identifier = try Validate.residentID(request.residentIdNumber, "resident_id_number", today: today).value
        case .enterprise:
            identifier = try Validate.creditCode(request.unifiedSocialCreditCode, "unified_social_credit_code")
        default:
            throw Validate.invalid("subject_kind", "required: PERSON or ENTERPRISE")
        }
        let region = request.regionCode.isEmpty ? nil : try Validate.regionCode(request.regionCode, "region_code")
        let entries = try await self.read { connection in
            try Self.barring(connection, identifier: identifier, region: region, today: today)
        }
        return RegistryV1.CheckNegativeListResponse(listed: !entries.isEmpty, entries: entries)
    }

    /// FAILED_PRECONDITION (NEGATIVE_LIST_MATCH) naming the entry when the member's resident
    /// ID number or enterprise credit code is barred in the member's region.
    static func requireNotListed(_ connection: any SQLConnection, member: RegistryV1.Member, today: Int) throws {
        try Self.requireNotListed(member, today: today) { identifier in
            try Self.entries(connection, identifier: identifier)
        }
    }

    /// The negative-list identifiers of `member`: its resident ID number and its enterprise's
    /// credit code, those that are set.
    static func listedIdentifiers(_ member: RegistryV1.Member) -> [String] {
        [member.residentIdNumber, member.privateEconomyDetails?.unifiedSocialCreditCode ?? ""].filter { !$0.isEmpty }
    }

    /// FAILED_PRECONDITION (NEGATIVE_LIST_MATCH) naming the entry when one of `entries`
    /// (the entries recorded for an identifier) bars `member`.
    static func requireNotListed(
        _ member: RegistryV1.Member, today: Int, entries: (String) throws -> [RegistryV1.NegativeListEntry]
    ) throws {
        let region = try? RegionCode(validating: member.regionCode)
        for identifier in Self.listedIdentifiers(member) {
            if let entry = Self.barring(try entries(identifier), region: region, today: today).first {
                throw ServiceError.failedPrecondition(
                    reason: "\(entry.subjectKind == .person ? "the person" : "the enterprise") matches negative list "
                        + "entry \(entry.id) (\(entry.reason.protoName), applying in region \(entry.regionCode))",
                    subject: "negative list entry \(entry.id)", errorReason: "NEGATIVE_LIST_MATCH")
            }
        }
    }

    /// Active entries for `identifier` that apply in `region` (an entry applies in its own
    /// region's subtree; nil `region` means the province, where only province-wide entries
    /// apply).
    static func barring(
        _ connection: any SQLConnection, identifier: String, region: RegionCode?, today: Int
    ) throws -> [RegistryV1.NegativeListEntry] {
        Self.barring(try Self.entries(connection, identifier: identifier), region: region, today: today)
    }

    /// Those of `entries` in force on `today` that apply in `region`.
    static func barring(
        _ entries: [RegistryV1.NegativeListEntry], region: RegionCode?, today: Int
    ) -> [RegistryV1.NegativeListEntry] {
        entries.filter { entry in
            guard Self.isActive(entry, today: today), let entryRegion = try? RegionCode(validating: entry.regionCode)
            else {
                return false
            }
            guard let region else {
                return entryRegion.level == .province
            }
            return region.padded12.hasPrefix(RegionKeys.prefix(entryRegion))
        }
    }

    private static func entries(_ connection: any SQLConnection, identifier: String) throws -> [RegistryV1.NegativeListEntry] {
        try connection.query(
            "SELECT body FROM negative_list WHERE identifier = ? ORDER BY create_us, id", [.text(identifier)]
        ).map { try Self.decode(RegistryV1.NegativeListEntry.self, $0.bytes(0)) }
    }

    /// In force on `today`: not removed, effective, not expired.
    static func isActive(_ entry: RegistryV1.NegativeListEntry, today: Int) -> Bool {
        guard entry.removeTime == nil else {
            return false
        }
        if let effective = entry.effectiveDate, Days.number(effective) > today {
            return false
        }
        if let expiry = entry.expiryDate, Days.number(expiry) < today {
            return false
        }
        return true
    }
}

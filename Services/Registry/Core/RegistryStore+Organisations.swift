import Model
import ServiceKit

extension RegistryStore {
    /// The update paths that hold personal data (see ``memberPersonalDataPaths``).
    static let organisationPersonalDataPaths: Set<String> = ["unified_social_credit_code", "contact_mobile"]

    /// The paths UpdateOrganisation accepts.
    static let organisationUpdatablePaths: Set<String> = [
        "name", "region_code", "unified_social_credit_code", "parent_organisation_id", "democratic_party", "address",
        "contact_name", "contact_mobile", "established_date", "leader_member_id",
    ]

    /// CreateOrganisation. A repeated request_id returns the first result.
    /// - Throws: INVALID_ARGUMENT (name, kind, a region level the kind does not allow, credit
    ///   code, mobile, party of a branch, a leader given); NOT_FOUND (region, parent);
    ///   ALREADY_EXISTS (a second active liaison station in a village, credit code in use,
    ///   request_id conflict); FAILED_PRECONDITION (inactive region, dissolved parent).
    public func createOrganisation(
        _ request: RegistryV1.CreateOrganisationRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.CreateOrganisationResponse {
        try Validate.requestID(request.requestId)
        guard var organisation = request.organisation else {
            throw Validate.invalid("organisation", "required")
        }
        guard organisation.leaderMemberId.isEmpty else {
            throw Validate.invalid("organisation.leader_member_id", "must be empty: set it after adding the membership")
        }
        organisation = try Self.validatedOrganisation(organisation, field: "organisation")
        try caller.scope.require(regionCode: organisation.regionCode, of: "organisation.region_code \(organisation.regionCode)")
        let now = self.now()
        organisation.id = Self.newID("o")
        organisation.status = .active
        organisation.dissolvedDate = nil
        organisation.activeMemberCount = 0
        organisation.personalDataMasked = false
        organisation.version = 1
        organisation.audit = CommonV1.AuditInfo(
            createTime: Timestamps.make(now), updateTime: Timestamps.make(now), createdBy: caller.userID,
            updatedBy: caller.userID)
        let requestBytes = request.serializedBytes()
        let created = organisation
        return try await self.write { connection in
            if let previous = try Self.replay(
                connection, caller: caller, method: "CreateOrganisation", requestID: request.requestId,
                request: requestBytes, now: now)
            {
                return try Self.decode(RegistryV1.CreateOrganisationResponse.self, previous)
            }
            try Self.checkOrganisationPlacement(connection, created, previous: nil)
            try Self.storeOrganisation(connection, created, isNew: true)
            try Self.appendHistory(
                connection,
                RegistryV1.HistoryEntry(
                    organisationId: created.id, eventKind: .created, actorId: caller.userID,
                    actorName: caller.displayName, versionAfter: 1),
                now: now)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .created, entityKind: .organisation, entityId: created.id,
                    regionCode: created.regionCode, actorId: caller.userID, version: 1, organisation: created),
                now: now)
            let response = RegistryV1.CreateOrganisationResponse(organisation: created)
            try Self.remember(
                connection, caller: caller, method: "CreateOrganisation", requestID: request.requestId,
                request: requestBytes, response: response.serializedBytes(), now: now)
            return response
        }
    }

    /// GetOrganisation, with its active membership count.
    /// - Throws: INVALID_ARGUMENT (id empty); NOT_FOUND; PERMISSION_DENIED (outside `scope`).
    public func getOrganisation(
        _ request: RegistryV1.GetOrganisationRequest, scope: RegionScope = .unrestricted
    ) async throws(ServiceError) -> RegistryV1.GetOrganisationResponse {
        guard !request.organisationId.isEmpty else {
            throw Validate.invalid("organisation_id", "required")
        }
        let id = request.organisationId
        let organisation = try await self.read { connection in
            try Self.fetchOrganisation(connection, id: id, withCount: true)
        }
        guard let organisation else {
            throw ServiceError.notFound(resource: "tongxin.registry.v1.Organisation", name: id)
        }
        try scope.require(regionCode: organisation.regionCode, of: "organisation \(id)")
        return RegistryV1.GetOrganisationResponse(organisation: organisation)
    }

    /// ListOrganisations: a region subtree with filters, by region code, name and id.
    /// - Throws: INVALID_ARGUMENT (malformed filter, bad page_size or page_token).
    public func listOrganisations(
        _ request: RegistryV1.ListOrganisationsRequest
    ) async throws(ServiceError) -> RegistryV1.ListOrganisationsResponse {
        let pageSize = try Validate.pageSize(request.pageSize)
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if !request.regionCode.isEmpty {
            let (low, high) = RegionKeys.subtree(try Validate.regionCode(request.regionCode, "region_code"))
            conditions.append("o.region_key BETWEEN ? AND ?")
            parameters += [.text(low), .text(high)]
        }
        if request.kind != .unspecified {
            conditions.append("o.kind = ?")
            parameters.append(.integer(Int64(request.kind.rawValue)))
        }
        if request.status != .unspecified {
            conditions.append("o.status = ?")
            parameters.append(.integer(Int64(request.status.rawValue)))
        }
        if !request.namePrefix.isEmpty {
            try Validate.text(request.namePrefix, "name_prefix", 1...128)
            conditions.append("substr(o.name, 1, \(request.namePrefix.count)) = ?")
            parameters.append(.text(request.namePrefix))
        }
        if !request.parentOrganisationId.isEmpty {
            conditions.append("o.parent_id = ?")
            parameters.append(.text(request.parentOrganisationId))
        }
        var filter = request
        filter.pageSize = 0
        filter.pageToken = ""
        let fingerprint = PageToken.fingerprint(["organisations", String(decoding: filter.serializedBytes(), as: UTF8.self)])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 4)
        let filterConditions = conditions
        let filterParameters = parameters
        return try await self.read { connection in
            var response = RegistryV1.ListOrganisationsResponse()
            let whereClause = filterConditions.isEmpty ? "" : "WHERE " + filterConditions.joined(separator: " AND ")
            if let after {
                response.totalSize = Int32(after[3]) ?? 0
            } else {
                let count = try connection.queryOne("SELECT COUNT(*) FROM organisations o \(whereClause)", filterParameters)
                response.totalSize = Int32(count?.int64(0) ?? 0)
            }
            var pageConditions = filterConditions
            var parameters = filterParameters
            if let after {
                pageConditions.append("(o.region_key, o.name, o.id) > (?, ?, ?)")
                parameters += [.text(after[0]), .text(after[1]), .text(after[2])]
            }
            var sql = """
                SELECT o.region_key, o.name, o.id, o.body,
                    (SELECT COUNT(*) FROM memberships s WHERE s.organisation_id = o.id AND s.active = 1)
                FROM organisations o
                """
            if !pageConditions.isEmpty {
                sql += " WHERE " + pageConditions.joined(separator: " AND ")
            }
            sql += " ORDER BY o.region_key, o.name, o.id LIMIT ?"
            parameters.append(.int(pageSize + 1))
            let rows = try connection.query(sql, parameters)
            for row in rows.prefix(pageSize) {
                var organisation = try Self.decode(RegistryV1.Organisation.self, row.bytes(3))
                organisation.activeMemberCount = Int32(row.int64(4))
                response.organisations.append(organisation)
            }
            if rows.count > pageSize {
                let last = rows[pageSize - 1]
                response.nextPageToken = PageToken.encode(
                    fingerprint: fingerprint,
                    keys: [last.string(0), last.string(1), last.string(2), String(response.totalSize)])
            }
            return response
        }
    }

    /// UpdateOrganisation (AIP-134).
    /// - Throws: INVALID_ARGUMENT (mask, values, a parent cycle); NOT_FOUND (organisation,
    ///   region, parent); ALREADY_EXISTS (liaison station or credit code); ABORTED;
    ///   FAILED_PRECONDITION (dissolved; leader without an active membership).
    public func updateOrganisation(
        _ request: RegistryV1.UpdateOrganisationRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.UpdateOrganisationResponse {
        guard let input = request.organisation, !input.id.isEmpty else {
            throw Validate.invalid("organisation.id", "required")
        }
        try Validate.version(input.version, "organisation.version")
        let paths = request.updateMask?.paths ?? []
        guard !paths.isEmpty else {
            throw Validate.invalid("update_mask", "must name at least one path", "INVALID_UPDATE_MASK")
        }
        for (index, path) in paths.enumerated() where !Self.organisationUpdatablePaths.contains(path) {
            throw Validate.invalid("update_mask.paths[\(index)]", "\"\(path)\" cannot be updated", "INVALID_UPDATE_MASK")
        }
        try Validate.text(request.reason, "reason", 0...512)
        let changed = Array(Set(paths)).sorted()
        let now = self.now()
        return try await self.write { connection in
            var organisation = try Self.requireOrganisation(connection, id: input.id, caller: caller)
            guard organisation.version == input.version else {
                throw ServiceError.aborted(currentVersion: organisation.version)
            }
            guard organisation.status == .active else {
                throw ServiceError.failedPrecondition(
                    reason: "organisation is dissolved", subject: "organisation \(input.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            let personal = changed.filter(Self.organisationPersonalDataPaths.contains)
            if !personal.isEmpty && !caller.maySeePersonalData(regionCode: organisation.regionCode) {
                throw Self.personalDataNotPermitted(personal, regionCode: organisation.regionCode)
            }
            let previous = organisation
            for path in changed {
                switch path {
                case "name": organisation.name = input.name
                case "region_code": organisation.regionCode = input.regionCode
                case "unified_social_credit_code": organisation.unifiedSocialCreditCode = input.unifiedSocialCreditCode
                case "parent_organisation_id": organisation.parentOrganisationId = input.parentOrganisationId
                case "democratic_party": organisation.democraticParty = input.democraticParty
                case "address": organisation.address = input.address
                case "contact_name": organisation.contactName = input.contactName
                case "contact_mobile": organisation.contactMobile = input.contactMobile
                case "established_date": organisation.establishedDate = input.establishedDate
                case "leader_member_id": organisation.leaderMemberId = input.leaderMemberId
                default: break
                }
            }
            organisation = try Self.validatedOrganisation(organisation, field: "organisation")
            if organisation.regionCode != previous.regionCode {
                try caller.scope.require(
                    regionCode: organisation.regionCode, of: "organisation.region_code \(organisation.regionCode)")
            }
            try Self.checkOrganisationPlacement(connection, organisation, previous: previous)
            if !organisation.leaderMemberId.isEmpty && organisation.leaderMemberId != previous.leaderMemberId {
                let membership = try connection.queryOne(
                    "SELECT id FROM memberships WHERE organisation_id = ? AND member_id = ? AND active = 1",
                    [.text(organisation.id), .text(organisation.leaderMemberId)])
                guard membership != nil else {
                    throw ServiceError.failedPrecondition(
                        reason: "the leader must hold an active membership of the organisation",
                        subject: "member \(organisation.leaderMemberId)", errorReason: "INVALID_STATE_TRANSITION")
                }
            }
            organisation.version += 1
            organisation.audit?.updateTime = Timestamps.make(now)
            organisation.audit?.updatedBy = caller.userID
            try Self.storeOrganisation(connection, organisation, isNew: false)
            let moved = organisation.regionCode != previous.regionCode
            try Self.appendHistory(
                connection,
                RegistryV1.HistoryEntry(
                    organisationId: organisation.id, eventKind: moved ? .regionChanged : .updated,
                    actorId: caller.userID, actorName: caller.displayName, reason: request.reason,
                    changedPaths: changed, versionAfter: organisation.version),
                now: now)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .updated, entityKind: .organisation, entityId: organisation.id,
                    regionCode: organisation.regionCode, previousRegionCode: moved ? previous.regionCode : "",
                    actorId: caller.userID, version: organisation.version, changedPaths: changed,
                    organisation: organisation),
                now: now)
            organisation.activeMemberCount = try Self.activeMemberCount(connection, organisation.id)
            return RegistryV1.UpdateOrganisationResponse(organisation: organisation)
        }
    }

    /// DissolveOrganisation: → DISSOLVED (final); its active memberships end.
    /// - Throws: INVALID_ARGUMENT (reason empty, date in the future); NOT_FOUND; ABORTED;
    ///   FAILED_PRECONDITION (already dissolved; active child organisations remain).
    public func dissolveOrganisation(
        _ request: RegistryV1.DissolveOrganisationRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.DissolveOrganisationResponse {
        guard !request.organisationId.isEmpty else {
            throw Validate.invalid("organisation_id", "required")
        }
        try Validate.version(request.version)
        try Validate.text(request.reason, "reason", 1...512)
        try Validate.date(request.dissolvedDate, "dissolved_date")
        let now = self.now()
        let today = Days.today(now)
        let day = request.dissolvedDate.map(Days.number) ?? today
        guard day <= today else {
            throw Validate.invalid("dissolved_date", "must not be in the future")
        }
        return try await self.write { connection in
            var organisation = try Self.requireOrganisation(connection, id: request.organisationId, caller: caller)
            guard organisation.version == request.version else {
                throw ServiceError.aborted(currentVersion: organisation.version)
            }
            guard organisation.status == .active else {
                throw ServiceError.failedPrecondition(
                    reason: "already dissolved", subject: "organisation \(organisation.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            if let child = try connection.queryOne(
                "SELECT id FROM organisations WHERE parent_id = ? AND status = 1 ORDER BY id", [.text(organisation.id)])
            {
                throw ServiceError.failedPrecondition(
                    reason: "active child organisation \(child.string(0)) remains",
                    subject: "organisation \(organisation.id)", errorReason: "INVALID_STATE_TRANSITION")
            }
            try Self.endMemberships(
                connection, column: "organisation_id", id: organisation.id, reason: request.reason, day: day,
                caller: caller, now: now)
            organisation.status = .dissolved
            organisation.dissolvedDate = Days.date(day)
            organisation.leaderMemberId = ""
            organisation.version += 1
            organisation.audit?.updateTime = Timestamps.make(now)
            organisation.audit?.updatedBy = caller.userID
            try Self.storeOrganisation(connection, organisation, isNew: false)
            try Self.appendHistory(
                connection,
                RegistryV1.HistoryEntry(
                    organisationId: organisation.id, eventKind: .dissolved, actorId: caller.userID,
                    actorName: caller.displayName, reason: request.reason, versionAfter: organisation.version),
                now: now)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .statusChanged, entityKind: .organisation, entityId: organisation.id,
                    regionCode: organisation.regionCode, actorId: caller.userID, version: organisation.version,
                    organisation: organisation),
                now: now)
            return RegistryV1.DissolveOrganisationResponse(organisation: organisation)
        }
    }

    /// ListOrganisationHistory, newest first.
    /// - Throws: INVALID_ARGUMENT (id empty, bad page_size or page_token); NOT_FOUND;
    ///   PERMISSION_DENIED (the organisation outside `scope`).
    public func listOrganisationHistory(
        _ request: RegistryV1.ListOrganisationHistoryRequest, scope: RegionScope = .unrestricted
    ) async throws(ServiceError) -> RegistryV1.ListOrganisationHistoryResponse {
        guard !request.organisationId.isEmpty else {
            throw Validate.invalid("organisation_id", "required")
        }
        let pageSize = try Validate.pageSize(request.pageSize)
        let kinds = request.eventKinds.map { Int64($0.rawValue) }
        let fingerprint = PageToken.fingerprint(["organisation-history", request.organisationId] + kinds.map(String.init))
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 1)
        let id = request.organisationId
        return try await self.read { connection in
            guard let organisation = try connection.queryOne("SELECT region_key FROM organisations WHERE id = ?", [.text(id)])
            else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Organisation", name: id)
            }
            try scope.require(regionKey: organisation.string(0), of: "organisation \(id)")
            // Membership events are the member's entries that name the organisation.
            // (`<> ''` lets both engines use the partial index history_organisation.)
            var sql = "SELECT seq, body FROM history WHERE organisation_id = ? AND organisation_id <> ''"
            var parameters: [SQLValue] = [.text(id)]
            if !kinds.isEmpty {
                sql += " AND event_kind IN (\(SQLText.placeholders(kinds.count)))"
                parameters += kinds.map { .integer($0) }
            }
            if let after {
                sql += " AND seq < ?"
                parameters.append(.integer(Int64(after[0]) ?? 0))
            }
            sql += " ORDER BY seq DESC LIMIT ?"
            parameters.append(.int(pageSize + 1))
            let rows = try connection.query(sql, parameters)
            var response = RegistryV1.ListOrganisationHistoryResponse()
            for row in rows.prefix(pageSize) {
                response.entries.append(try Self.decode(RegistryV1.HistoryEntry.self, row.bytes(1)))
            }
            if rows.count > pageSize {
                response.nextPageToken = PageToken.encode(
                    fingerprint: fingerprint, keys: [String(rows[pageSize - 1].int64(0))])
            }
            return response
        }
    }

    // MARK: - Rules and rows

    static func validatedOrganisation(
        _ organisation: RegistryV1.Organisation, field: String
    ) throws(ServiceError) -> RegistryV1.Organisation {
        var organisation = organisation
        try Validate.text(organisation.name, "\(field).name", 1...128)
        guard Validate.known(organisation.kind) else {
            throw Validate.invalid("\(field).kind", "required: one of the organisation kinds")
        }
        let region = try Validate.regionCode(organisation.regionCode, "\(field).region_code")
        organisation.regionCode = region.code
        switch organisation.kind {
        case .liaisonStation where region.level != .village:
            throw Validate.invalid(
                "\(field).region_code", "a liaison station belongs to a village, not a \(region.level)",
                "INVALID_REGION_CODE")
        case .townshipChamberOfCommerce where region.level != .township:
            throw Validate.invalid(
                "\(field).region_code", "a township chamber of commerce belongs to a township, not a \(region.level)",
                "INVALID_REGION_CODE")
        case .chamberOfCommerce where region.level > .county:
            throw Validate.invalid(
                "\(field).region_code", "a chamber of commerce belongs to a county or above, not a \(region.level)",
                "INVALID_REGION_CODE")
        default:
            break
        }
        if !organisation.unifiedSocialCreditCode.isEmpty {
            organisation.unifiedSocialCreditCode = try Validate.creditCode(
                organisation.unifiedSocialCreditCode, "\(field).unified_social_credit_code")
        }
        if organisation.kind == .democraticPartyBranch {
            guard Validate.known(organisation.democraticParty) else {
                throw Validate.invalid("\(field).democratic_party", "required for a democratic-party branch")
            }
        } else if organisation.democraticParty != .unspecified {
            throw Validate.invalid("\(field).democratic_party", "set only for democratic-party branches")
        }
        try Validate.text(organisation.address, "\(field).address", 0...256)
        try Validate.text(organisation.contactName, "\(field).contact_name", 0...64)
        if !organisation.contactMobile.isEmpty {
            organisation.contactMobile = try Validate.mobile(organisation.contactMobile, "\(field).contact_mobile")
        }
        try Validate.date(organisation.establishedDate, "\(field).established_date")
        return organisation
    }

    /// Region, parent, liaison-station and credit-code checks against stored records.
    static func checkOrganisationPlacement(
        _ connection: any SQLConnection, _ organisation: RegistryV1.Organisation, previous: RegistryV1.Organisation?
    ) throws {
        if organisation.regionCode != previous?.regionCode {
            _ = try Self.requireActiveRegion(connection, code: organisation.regionCode, field: "organisation.region_code")
        }
        if !organisation.parentOrganisationId.isEmpty && organisation.parentOrganisationId != previous?.parentOrganisationId {
            var cursor = organisation.parentOrganisationId
            var steps = 0
            while !cursor.isEmpty {
                guard cursor != organisation.id, steps < 64 else {
                    throw Validate.invalid("organisation.parent_organisation_id", "would create a cycle")
                }
                guard let parent = try Self.fetchOrganisation(connection, id: cursor, withCount: false) else {
                    throw ServiceError.notFound(resource: "tongxin.registry.v1.Organisation", name: cursor)
                }
                if steps == 0 && parent.status != .active {
                    throw ServiceError.failedPrecondition(
                        reason: "the parent organisation is dissolved", subject: "organisation \(parent.id)",
                        errorReason: "INVALID_STATE_TRANSITION")
                }
                cursor = parent.parentOrganisationId
                steps += 1
            }
        }
        if organisation.kind == .liaisonStation,
            let other = try connection.queryOne(
                "SELECT id FROM organisations WHERE region_key = ? AND kind = 8 AND status = 1 AND id <> ?",
                [.text(RegionKeys.key(organisation.regionCode)), .text(organisation.id)])
        {
            throw ServiceError.alreadyExists(resource: "tongxin.registry.v1.Organisation", name: other.string(0))
        }
        if !organisation.unifiedSocialCreditCode.isEmpty,
            let other = try connection.queryOne(
                "SELECT id FROM organisations WHERE credit_code = ? AND status = 1 AND id <> ?",
                [.text(organisation.unifiedSocialCreditCode), .text(organisation.id)])
        {
            throw ServiceError.alreadyExists(resource: "tongxin.registry.v1.Organisation", name: other.string(0))
        }
    }

    /// The organisation `id` for a write by `caller`: NOT_FOUND, or PERMISSION_DENIED when it
    /// lies outside the caller's scope (checked before its version).
    static func requireOrganisation(
        _ connection: any SQLConnection, id: String, caller: Caller
    ) throws -> RegistryV1.Organisation {
        guard let organisation = try Self.fetchOrganisation(connection, id: id, withCount: false) else {
            throw ServiceError.notFound(resource: "tongxin.registry.v1.Organisation", name: id)
        }
        try caller.scope.require(regionCode: organisation.regionCode, of: "organisation \(id)")
        return organisation
    }

    static func fetchOrganisation(
        _ connection: any SQLConnection, id: String, withCount: Bool
    ) throws -> RegistryV1.Organisation? {
        guard let row = try connection.queryOne("SELECT body FROM organisations WHERE id = ?", [.text(id)]) else {
            return nil
        }
        var organisation = try Self.decode(RegistryV1.Organisation.self, row.bytes(0))
        if withCount {
            organisation.activeMemberCount = try Self.activeMemberCount(connection, id)
        }
        return organisation
    }

    static func activeMemberCount(_ connection: any SQLConnection, _ id: String) throws -> Int32 {
        let row = try connection.queryOne(
            "SELECT COUNT(*) FROM memberships WHERE organisation_id = ? AND active = 1", [.text(id)])
        return Int32(row?.int64(0) ?? 0)
    }

    static func storeOrganisation(_ connection: any SQLConnection, _ organisation: RegistryV1.Organisation, isNew: Bool) throws {
        var stored = organisation
        stored.activeMemberCount = 0
        let values: [SQLValue] = [
            .text(RegionKeys.key(organisation.regionCode)), .integer(Int64(organisation.kind.rawValue)),
            .integer(Int64(organisation.status.rawValue)), .text(organisation.name),
            organisation.unifiedSocialCreditCode.isEmpty ? .null : .text(organisation.unifiedSocialCreditCode),
            .text(organisation.parentOrganisationId), .integer(organisation.version), .blob(stored.serializedBytes()),
            .text(organisation.id),
        ]
        if isNew {
            try connection.execute(
                """
                INSERT INTO organisations (region_key, kind, status, name, credit_code, parent_id, version, body, id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, values)
        } else {
            try connection.execute(
                """
                UPDATE organisations SET region_key = ?, kind = ?, status = ?, name = ?, credit_code = ?,
                    parent_id = ?, version = ?, body = ?
                WHERE id = ?
                """, values)
        }
    }
}

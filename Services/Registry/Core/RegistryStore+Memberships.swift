import Model
import ServiceKit

extension RegistryStore {
    /// CreateMembership: an ACTIVE member joins an ACTIVE organisation. A repeated
    /// request_id returns the first result.
    /// - Throws: INVALID_ARGUMENT (ids missing, a bad date); NOT_FOUND (member, organisation);
    ///   ALREADY_EXISTS (an active membership of the pair; request_id conflict);
    ///   FAILED_PRECONDITION (member not ACTIVE: MEMBER_NOT_ACTIVE; organisation dissolved).
    public func createMembership(
        _ request: RegistryV1.CreateMembershipRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.CreateMembershipResponse {
        try Validate.requestID(request.requestId)
        guard let input = request.membership else {
            throw Validate.invalid("membership", "required")
        }
        guard !input.organisationId.isEmpty else {
            throw Validate.invalid("membership.organisation_id", "required")
        }
        guard !input.memberId.isEmpty else {
            throw Validate.invalid("membership.member_id", "required")
        }
        guard input.role == .unspecified || Validate.known(input.role) else {
            throw Validate.invalid("membership.role", "not a membership role")
        }
        try Validate.date(input.startDate, "membership.start_date")
        let now = self.now()
        let start = input.startDate.map(Days.number) ?? Days.today(now)
        let requestBytes = request.serializedBytes()
        return try await self.write { connection in
            if let previous = try Self.replay(
                connection, caller: caller, method: "CreateMembership", requestID: request.requestId,
                request: requestBytes, now: now)
            {
                return try Self.decode(RegistryV1.CreateMembershipResponse.self, previous)
            }
            // A membership belongs to its organisation; joining one takes both in the caller's scope.
            let member = try Self.requireMember(connection, id: input.memberId, caller: caller)
            let organisation = try Self.requireOrganisation(connection, id: input.organisationId, caller: caller)
            guard member.status == .active else {
                throw ServiceError.failedPrecondition(
                    reason: "the member is \(member.status), not ACTIVE", subject: "member \(member.id)",
                    errorReason: "MEMBER_NOT_ACTIVE")
            }
            guard organisation.status == .active else {
                throw ServiceError.failedPrecondition(
                    reason: "the organisation is dissolved", subject: "organisation \(organisation.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            if let existing = try connection.queryOne(
                "SELECT id FROM memberships WHERE organisation_id = ? AND member_id = ? AND active = 1",
                [.text(organisation.id), .text(member.id)])
            {
                throw ServiceError.alreadyExists(resource: "tongxin.registry.v1.Membership", name: existing.string(0))
            }
            let membership = RegistryV1.Membership(
                id: Self.newID("s"), organisationId: organisation.id, memberId: member.id,
                role: input.role == .unspecified ? .member : input.role, startDate: Days.date(start), active: true,
                organisationName: organisation.name, memberName: member.name, version: 1,
                audit: CommonV1.AuditInfo(
                    createTime: Timestamps.make(now), updateTime: Timestamps.make(now), createdBy: caller.userID,
                    updatedBy: caller.userID))
            try Self.storeMembership(connection, membership, isNew: true)
            try Self.appendHistory(
                connection,
                RegistryV1.HistoryEntry(
                    memberId: member.id, organisationId: organisation.id, membershipId: membership.id,
                    eventKind: .membershipStarted, actorId: caller.userID, actorName: caller.displayName,
                    versionAfter: member.version),
                now: now)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .created, entityKind: .membership, entityId: membership.id,
                    regionCode: organisation.regionCode, actorId: caller.userID, version: 1, membership: membership),
                now: now)
            let response = RegistryV1.CreateMembershipResponse(membership: membership)
            try Self.remember(
                connection, caller: caller, method: "CreateMembership", requestID: request.requestId,
                request: requestBytes, response: response.serializedBytes(), now: now)
            return response
        }
    }

    /// UpdateMembership: "role" and "start_date".
    /// - Throws: INVALID_ARGUMENT (mask, values); NOT_FOUND; ABORTED; FAILED_PRECONDITION
    ///   (membership ended).
    public func updateMembership(
        _ request: RegistryV1.UpdateMembershipRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.UpdateMembershipResponse {
        guard let input = request.membership, !input.id.isEmpty else {
            throw Validate.invalid("membership.id", "required")
        }
        try Validate.version(input.version, "membership.version")
        let paths = Array(Set(request.updateMask?.paths ?? [])).sorted()
        guard !paths.isEmpty else {
            throw Validate.invalid("update_mask", "must name at least one path", "INVALID_UPDATE_MASK")
        }
        for path in paths where path != "role" && path != "start_date" {
            throw Validate.invalid("update_mask.paths", "\"\(path)\" cannot be updated", "INVALID_UPDATE_MASK")
        }
        if paths.contains("role") && !Validate.known(input.role) {
            throw Validate.invalid("membership.role", "required: a membership role")
        }
        if paths.contains("start_date") {
            guard input.startDate != nil else {
                throw Validate.invalid("membership.start_date", "required")
            }
            try Validate.date(input.startDate, "membership.start_date")
        }
        let now = self.now()
        return try await self.write { connection in
            let found = try Self.requireMembership(connection, id: input.id, caller: caller)
            var membership = found.membership
            guard membership.version == input.version else {
                throw ServiceError.aborted(currentVersion: membership.version)
            }
            guard membership.active else {
                throw ServiceError.failedPrecondition(
                    reason: "the membership has ended", subject: "membership \(membership.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            if paths.contains("role") {
                membership.role = input.role
            }
            if paths.contains("start_date") {
                membership.startDate = input.startDate
            }
            membership.version += 1
            membership.audit?.updateTime = Timestamps.make(now)
            membership.audit?.updatedBy = caller.userID
            try Self.storeMembership(connection, membership, isNew: false)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .updated, entityKind: .membership, entityId: membership.id,
                    regionCode: found.organisation?.regionCode ?? "",
                    actorId: caller.userID, version: membership.version, changedPaths: paths, membership: membership),
                now: now)
            return RegistryV1.UpdateMembershipResponse(membership: membership)
        }
    }

    /// EndMembership (kept for history).
    /// - Throws: INVALID_ARGUMENT (end_reason empty, end_date before start_date or in the
    ///   future); NOT_FOUND; ABORTED; FAILED_PRECONDITION (already ended; the member leads
    ///   the organisation).
    public func endMembership(
        _ request: RegistryV1.EndMembershipRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.EndMembershipResponse {
        guard !request.membershipId.isEmpty else {
            throw Validate.invalid("membership_id", "required")
        }
        try Validate.version(request.version)
        try Validate.text(request.endReason, "end_reason", 1...256)
        try Validate.date(request.endDate, "end_date")
        let now = self.now()
        let today = Days.today(now)
        let day = request.endDate.map(Days.number) ?? today
        guard day <= today else {
            throw Validate.invalid("end_date", "must not be in the future")
        }
        return try await self.write { connection in
            let (membership, organisation) = try Self.requireMembership(connection, id: request.membershipId, caller: caller)
            guard membership.version == request.version else {
                throw ServiceError.aborted(currentVersion: membership.version)
            }
            guard membership.active else {
                throw ServiceError.failedPrecondition(
                    reason: "already ended", subject: "membership \(membership.id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            if let start = membership.startDate, day < Days.number(start) {
                throw Validate.invalid("end_date", "must not be before start_date")
            }
            if organisation?.leaderMemberId == membership.memberId {
                throw ServiceError.failedPrecondition(
                    reason: "the member leads the organisation; change its leader first",
                    subject: "organisation \(membership.organisationId)", errorReason: "INVALID_STATE_TRANSITION")
            }
            let ended = try Self.end(
                connection, membership, reason: request.endReason, day: day, regionCode: organisation?.regionCode ?? "",
                caller: caller, now: now)
            return RegistryV1.EndMembershipResponse(membership: ended)
        }
    }

    /// ListMemberships of an organisation or of a member: active first, then by start date.
    /// - Throws: INVALID_ARGUMENT (neither or both ids, bad page_size or page_token);
    ///   NOT_FOUND (the organisation or member); PERMISSION_DENIED (it lies outside `scope`).
    public func listMemberships(
        _ request: RegistryV1.ListMembershipsRequest, scope: RegionScope = .unrestricted
    ) async throws(ServiceError) -> RegistryV1.ListMembershipsResponse {
        guard request.organisationId.isEmpty != request.memberId.isEmpty else {
            throw Validate.invalid("organisation_id", "set exactly one of organisation_id and member_id")
        }
        let pageSize = try Validate.pageSize(request.pageSize)
        let byOrganisation = !request.organisationId.isEmpty
        let id = byOrganisation ? request.organisationId : request.memberId
        let fingerprint = PageToken.fingerprint(
            ["memberships", byOrganisation ? "o" : "m", id, request.includeEnded ? "1" : "0"])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 3)
        let includeEnded = request.includeEnded
        return try await self.read { connection in
            let table = byOrganisation ? "organisations" : "members"
            guard let owner = try connection.queryOne("SELECT region_key FROM \(table) WHERE id = ?", [.text(id)]) else {
                throw ServiceError.notFound(
                    resource: byOrganisation ? "tongxin.registry.v1.Organisation" : "tongxin.registry.v1.Member", name: id)
            }
            try scope.require(regionKey: owner.string(0), of: "\(byOrganisation ? "organisation" : "member") \(id)")
            var sql = """
                SELECT 1 - active, start_day, id, body FROM memberships
                WHERE \(byOrganisation ? "organisation_id" : "member_id") = ?
                """
            var parameters: [SQLValue] = [.text(id)]
            if !includeEnded {
                sql += " AND active = 1"
            }
            if let after {
                sql += " AND (1 - active, start_day, id) > (?, ?, ?)"
                parameters += [.integer(Int64(after[0]) ?? 0), .integer(Int64(after[1]) ?? 0), .text(after[2])]
            }
            sql += " ORDER BY 1 - active, start_day, id LIMIT ?"
            parameters.append(.int(pageSize + 1))
            let rows = try connection.query(sql, parameters)
            var response = RegistryV1.ListMembershipsResponse()
            for row in rows.prefix(pageSize) {
                response.memberships.append(try Self.decode(RegistryV1.Membership.self, row.bytes(3)))
            }
            if rows.count > pageSize {
                let last = rows[pageSize - 1]
                response.nextPageToken = PageToken.encode(
                    fingerprint: fingerprint, keys: [String(last.int64(0)), String(last.int64(1)), last.string(2)])
            }
            return response
        }
    }

    // MARK: - Rows

    /// Ends every active membership where `column` (member_id or organisation_id) is `id`.
    static func endMemberships(
        _ connection: any SQLConnection, column: String, id: String, reason: String, day: Int, caller: Caller,
        now: Int64
    ) throws {
        let rows = try connection.query(
            "SELECT body FROM memberships WHERE \(column) = ? AND active = 1 ORDER BY id", [.text(id)])
        for row in rows {
            let membership = try Self.decode(RegistryV1.Membership.self, row.bytes(0))
            let region = try Self.fetchOrganisation(connection, id: membership.organisationId, withCount: false)?.regionCode
            let start = membership.startDate.map(Days.number) ?? day
            _ = try Self.end(
                connection, membership, reason: String(reason.prefix(256)), day: max(day, start),
                regionCode: region ?? "", caller: caller, now: now)
        }
    }

    private static func end(
        _ connection: any SQLConnection, _ membership: RegistryV1.Membership, reason: String, day: Int,
        regionCode: String, caller: Caller, now: Int64
    ) throws -> RegistryV1.Membership {
        var membership = membership
        membership.active = false
        membership.endDate = Days.date(day)
        membership.endReason = reason
        membership.version += 1
        membership.audit?.updateTime = Timestamps.make(now)
        membership.audit?.updatedBy = caller.userID
        try Self.storeMembership(connection, membership, isNew: false)
        let memberVersion = try Self.fetchMember(connection, id: membership.memberId)?.version ?? 0
        try Self.appendHistory(
            connection,
            RegistryV1.HistoryEntry(
                memberId: membership.memberId, organisationId: membership.organisationId, membershipId: membership.id,
                eventKind: .membershipEnded, actorId: caller.userID, actorName: caller.displayName, reason: reason,
                versionAfter: memberVersion),
            now: now)
        try Self.appendChange(
            connection,
            RegistryV1.ChangeEvent(
                changeKind: .statusChanged, entityKind: .membership, entityId: membership.id, regionCode: regionCode,
                actorId: caller.userID, version: membership.version, membership: membership),
            now: now)
        return membership
    }

    /// The membership `id` for a change by `caller`, and its organisation: NOT_FOUND, or
    /// PERMISSION_DENIED when the organisation lies outside the caller's scope (a membership
    /// belongs to its organisation).
    static func requireMembership(
        _ connection: any SQLConnection, id: String, caller: Caller
    ) throws -> (membership: RegistryV1.Membership, organisation: RegistryV1.Organisation?) {
        guard let membership = try Self.fetchMembership(connection, id: id) else {
            throw ServiceError.notFound(resource: "tongxin.registry.v1.Membership", name: id)
        }
        let organisation = try Self.fetchOrganisation(connection, id: membership.organisationId, withCount: false)
        try caller.scope.require(regionCode: organisation?.regionCode ?? "", of: "membership \(id)")
        return (membership, organisation)
    }

    static func fetchMembership(_ connection: any SQLConnection, id: String) throws -> RegistryV1.Membership? {
        guard let row = try connection.queryOne("SELECT body FROM memberships WHERE id = ?", [.text(id)]) else {
            return nil
        }
        return try Self.decode(RegistryV1.Membership.self, row.bytes(0))
    }

    static func storeMembership(_ connection: any SQLConnection, _ membership: RegistryV1.Membership, isNew: Bool) throws {
        let values: [SQLValue] = [
            .text(membership.organisationId), .text(membership.memberId), .bool(membership.active),
            .int(membership.startDate.map(Days.number) ?? 0), .integer(membership.version),
            .blob(membership.serializedBytes()), .text(membership.id),
        ]
        if isNew {
            try connection.execute(
                """
                INSERT INTO memberships (organisation_id, member_id, active, start_day, version, body, id)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, values)
        } else {
            try connection.execute(
                """
                UPDATE memberships SET organisation_id = ?, member_id = ?, active = ?, start_day = ?, version = ?,
                    body = ?
                WHERE id = ?
                """, values)
        }
    }
}

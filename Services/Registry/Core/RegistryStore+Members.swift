import Model
import ServiceKit

extension RegistryStore {
    /// The update paths that hold personal data: a caller without the personal-data
    /// permission for the member's region sees them masked and may not name them.
    static let memberPersonalDataPaths: Set<String> = [
        "resident_id_number", "mobile", "birth_date", "private_economy_details", "compatriot_details",
    ]

    /// PERMISSION_DENIED for naming personal-data `paths` without the permission for the region.
    static func personalDataNotPermitted(_ paths: [String], regionCode: String) -> ServiceError {
        .permissionDenied(
            reason: "changing \(paths.joined(separator: ", ")) needs the personal-data permission for region \(regionCode)",
            errorReason: "ROLE_NOT_ALLOWED")
    }

    /// The paths UpdateMember accepts.
    static let memberUpdatablePaths: Set<String> = [
        "region_code", "category", "additional_categories", "name", "gender", "birth_date", "ethnicity_code",
        "resident_id_number", "mobile", "native_place", "industry_code", "specialties", "employer", "job_title",
        "education", "political_posts", "contact_cadre_id", "attributes", "democratic_party_details",
        "intellectual_details", "religious_details", "private_economy_details", "new_social_stratum_details",
        "overseas_study_details", "compatriot_details", "overseas_chinese_details",
    ]

    /// CreateMember: registers a person, PENDING (or ACTIVE with `admit`), after checking
    /// the negative list. A repeated request_id returns the first result.
    /// - Throws: INVALID_ARGUMENT (naming the field and the rule); NOT_FOUND (region);
    ///   ALREADY_EXISTS (a live member has the resident ID number; request_id conflict);
    ///   FAILED_PRECONDITION (negative-list match naming the entry; inactive region).
    /// - Parameter requestBytes: the request as received, when the caller has it: recorded for
    ///   retries instead of the request encoded again.
    public func createMember(
        _ request: RegistryV1.CreateMemberRequest, caller: Caller, requestBytes: [UInt8]? = nil
    ) async throws(ServiceError) -> RegistryV1.CreateMemberResponse {
        let bytes = try await self.createMemberEncoded(request, caller: caller, requestBytes: requestBytes, disclosing: false)
        do {
            return try Self.decode(RegistryV1.CreateMemberResponse.self, bytes)
        } catch {
            throw ServiceError.from(error)
        }
    }

    /// CreateMember's response, encoded: the bytes its idempotency record keeps (the created
    /// member behind the response's field tag), so the create encodes its response once, in
    /// the transaction. With `disclosing`, the member is shown as `caller` may see it: the
    /// bytes as they are when the caller may see its personal data, otherwise decoded, masked
    /// and encoded.
    /// - Throws: as ``createMember(_:caller:requestBytes:)``.
    public func createMemberEncoded(
        _ request: RegistryV1.CreateMemberRequest, caller: Caller, requestBytes: [UInt8]?, disclosing: Bool
    ) async throws(ServiceError) -> [UInt8] {
        try Validate.requestID(request.requestId)
        guard let input = request.member else {
            throw Validate.invalid("member", "required")
        }
        let now = self.now()
        let today = Days.today(now)
        var member = try Self.validatedMember(input, field: "member", today: today)
        try caller.scope.require(regionCode: member.regionCode, of: "member.region_code \(member.regionCode)")
        try Validate.text(request.reason, "reason", 0...512)
        var admissionDay: Int?
        if request.admit {
            try caller.roles.require(.admission, for: "CreateMember with admit")
            try Validate.date(request.admissionDate, "admission_date")
            let day = request.admissionDate.map(Days.number) ?? today
            guard day <= today else {
                throw Validate.invalid("admission_date", "must not be in the future")
            }
            admissionDay = day
        }
        member.id = Self.newID("m")
        member.status = request.admit ? .active : .pending
        member.admissionDate = admissionDay.map(Days.date)
        member.exitDate = nil
        member.industryName = ""
        member.contactCadreName = ""
        member.personalDataMasked = false
        member.version = 1
        member.audit = CommonV1.AuditInfo(
            createTime: Timestamps.make(now), updateTime: Timestamps.make(now), createdBy: caller.userID,
            updatedBy: caller.userID)
        let item = MemberCreation.Item(
            caller: caller, requestID: request.requestId, requestBytes: requestBytes ?? request.serializedBytes(), member: member,
            admit: request.admit, reason: request.reason, now: now, today: today)
        do {
            let response = try await self.database.write(item, batchedBy: Self.memberCreation)
            // A retry's recorded member has the region of this request's (the same request).
            guard disclosing, !caller.maySeePersonalData(regionCode: member.regionCode) else {
                return response
            }
            var shown = try Self.decode(RegistryV1.CreateMemberResponse.self, response)
            shown.member = shown.member.map(caller.disclosed)
            return shown.serializedBytes()
        } catch {
            throw ServiceError.from(error)
        }
    }

    /// The batch kind of CreateMember (one per process: it identifies the kind).
    static let memberCreation = MemberCreation()

    /// GetMember (unmasked: masking is the caller-aware service's job).
    /// - Throws: INVALID_ARGUMENT (member_id empty); NOT_FOUND.
    public func getMember(_ request: RegistryV1.GetMemberRequest) async throws(ServiceError) -> RegistryV1.GetMemberResponse {
        let bytes = try await self.getMemberEncoded(request, disclosingTo: nil)
        do {
            return try Self.decode(RegistryV1.GetMemberResponse.self, bytes)
        } catch {
            throw ServiceError.from(error)
        }
    }

    /// GetMember's response for `caller`, encoded: the stored member's bytes behind the
    /// response's field tag when the caller may see its personal data (or `caller` is nil: the
    /// store's own unmasked read), so the hot read decodes and re-encodes nothing; otherwise
    /// the member decoded, masked and encoded.
    /// - Throws: INVALID_ARGUMENT (member_id empty); NOT_FOUND.
    public func getMemberEncoded(
        _ request: RegistryV1.GetMemberRequest, disclosingTo caller: Caller?
    ) async throws(ServiceError) -> [UInt8] {
        guard !request.memberId.isEmpty else {
            throw Validate.invalid("member_id", "required")
        }
        let id = request.memberId
        let row = try await self.quickQuery("SELECT body, region_key FROM members WHERE id = ?", [.text(id)]).first
            .map { (body: $0.bytes(0), regionKey: $0.string(1)) }
        guard let row else {
            throw ServiceError.notFound(resource: "tongxin.registry.v1.Member", name: id)
        }
        try caller?.scope.require(regionKey: row.regionKey, of: "member \(id)")
        var body = row.body
        if let caller, !caller.maySeePersonalData(regionKey: row.regionKey) {
            do {
                body = Masking.masked(try Self.decode(RegistryV1.Member.self, body)).serializedBytes()
            } catch {
                throw ServiceError.from(error)
            }
        }
        // GetMemberResponse { Member member = 1; }
        return ProtoWire.field(1, lengthDelimited: body)
    }

    /// BatchGetMembers: up to 100 ids in one read; unknown ids, and those of members outside
    /// `scope`, come back in missing_ids.
    /// - Throws: INVALID_ARGUMENT (no ids, more than 100, an empty id).
    public func batchGetMembers(
        _ request: RegistryV1.BatchGetMembersRequest, scope: RegionScope = .unrestricted
    ) async throws(ServiceError) -> RegistryV1.BatchGetMembersResponse {
        guard !request.memberIds.isEmpty, request.memberIds.count <= 100 else {
            throw Validate.invalid("member_ids", "1–100 ids are required, got \(request.memberIds.count)")
        }
        var ids: [String] = []
        var seen: Set<String> = []
        for (index, id) in request.memberIds.enumerated() {
            guard !id.isEmpty else {
                throw Validate.invalid("member_ids[\(index)]", "must not be empty")
            }
            if seen.insert(id).inserted {
                ids.append(id)
            }
        }
        let rows = try await self.quickQuery(
            "SELECT id, body FROM members WHERE id IN (\(SQLText.placeholders(ids.count)))", ids.map { .text($0) })
        var found: [String: RegistryV1.Member] = [:]
        do {
            for row in rows {
                found[row.string(0)] = try Self.decode(RegistryV1.Member.self, row.bytes(1))
            }
        } catch {
            throw ServiceError.from(error)
        }
        var response = RegistryV1.BatchGetMembersResponse()
        for id in ids {
            if let member = found[id], scope.contains(regionCode: member.regionCode) {
                response.members.append(member)
            } else {
                response.missingIds.append(id)
            }
        }
        return response
    }

    /// UpdateMember (AIP-134): changes the masked paths, checks the version, appends an
    /// UPDATED or REGION_CHANGED history entry and a change event.
    /// - Throws: INVALID_ARGUMENT (empty mask, a path not updatable, a malformed value);
    ///   NOT_FOUND; ALREADY_EXISTS (resident ID number in use); ABORTED (stale version, with
    ///   the current one); FAILED_PRECONDITION (member EXITED or REJECTED; negative list).
    public func updateMember(
        _ request: RegistryV1.UpdateMemberRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.UpdateMemberResponse {
        guard let input = request.member else {
            throw Validate.invalid("member", "required")
        }
        guard !input.id.isEmpty else {
            throw Validate.invalid("member.id", "required")
        }
        try Validate.version(input.version, "member.version")
        let paths = request.updateMask?.paths ?? []
        guard !paths.isEmpty else {
            throw Validate.invalid("update_mask", "must name at least one path", "INVALID_UPDATE_MASK")
        }
        for (index, path) in paths.enumerated() where !Self.memberUpdatablePaths.contains(path) {
            throw Validate.invalid(
                "update_mask.paths[\(index)]", "\"\(path)\" cannot be updated", "INVALID_UPDATE_MASK")
        }
        try Validate.text(request.reason, "reason", 0...512)
        let now = self.now()
        let today = Days.today(now)
        let changed = Array(Set(paths)).sorted()
        return try await self.write { connection in
            var member = try Self.requireMember(connection, id: input.id, caller: caller)
            guard member.version == input.version else {
                throw ServiceError.aborted(currentVersion: member.version)
            }
            guard member.status != .exited && member.status != .rejected else {
                throw ServiceError.failedPrecondition(
                    reason: "member is \(member.status) and can no longer change", subject: "member",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            let personal = changed.filter(Self.memberPersonalDataPaths.contains)
            if !personal.isEmpty && !caller.maySeePersonalData(regionCode: member.regionCode) {
                throw Self.personalDataNotPermitted(personal, regionCode: member.regionCode)
            }
            let previous = member
            for path in changed {
                Self.copy(path, from: input, to: &member)
            }
            var validated = try Self.validatedMember(member, field: "member", today: today)
            validated.id = previous.id
            validated.status = previous.status
            validated.version = previous.version + 1
            validated.audit?.updateTime = Timestamps.make(now)
            validated.audit?.updatedBy = caller.userID
            if validated.regionCode != previous.regionCode {
                try caller.scope.require(regionCode: validated.regionCode, of: "member.region_code \(validated.regionCode)")
                _ = try Self.requireActiveRegion(connection, code: validated.regionCode, field: "member.region_code")
            }
            if validated.residentIdNumber != previous.residentIdNumber {
                try Self.requireResidentIDFree(connection, validated.residentIdNumber, except: previous.id)
                try Self.requireNotListed(connection, member: validated, today: today)
            }
            try Self.storeMember(connection, validated, isNew: false)
            let moved = validated.regionCode != previous.regionCode
            try Self.appendHistory(
                connection,
                RegistryV1.HistoryEntry(
                    memberId: validated.id, eventKind: moved ? .regionChanged : .updated, actorId: caller.userID,
                    actorName: caller.displayName, reason: request.reason, changedPaths: changed,
                    versionAfter: validated.version),
                now: now)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .updated, entityKind: .member, entityId: validated.id,
                    regionCode: validated.regionCode, previousRegionCode: moved ? previous.regionCode : "",
                    actorId: caller.userID, version: validated.version, changedPaths: changed, member: validated),
                now: now)
            return RegistryV1.UpdateMemberResponse(member: validated)
        }
    }

    /// AdmitMember (认定): PENDING → ACTIVE after checking the negative list again.
    /// - Throws: INVALID_ARGUMENT (reason empty, admission_date in the future); NOT_FOUND;
    ///   ABORTED; FAILED_PRECONDITION (not PENDING; negative-list match).
    public func admitMember(
        _ request: RegistryV1.AdmitMemberRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.AdmitMemberResponse {
        try caller.roles.require(.admission, for: "AdmitMember")
        try Validate.date(request.admissionDate, "admission_date")
        let today = Days.today(self.now())
        let day = request.admissionDate.map(Days.number) ?? today
        guard day <= today else {
            throw Validate.invalid("admission_date", "must not be in the future")
        }
        let member = try await self.transition(
            id: request.memberId, version: request.version, reason: request.reason, caller: caller,
            from: [.pending], to: .active, event: .admitted, checkNegativeList: true
        ) { member, _ in
            member.admissionDate = Days.date(day)
        }
        return RegistryV1.AdmitMemberResponse(member: member)
    }

    /// RejectMember: PENDING → REJECTED (final).
    /// - Throws: INVALID_ARGUMENT (reason empty); NOT_FOUND; ABORTED; FAILED_PRECONDITION.
    public func rejectMember(
        _ request: RegistryV1.RejectMemberRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.RejectMemberResponse {
        try caller.roles.require(.admission, for: "RejectMember")
        let member = try await self.transition(
            id: request.memberId, version: request.version, reason: request.reason, caller: caller,
            from: [.pending], to: .rejected, event: .rejected, checkNegativeList: false
        ) { _, _ in }
        return RegistryV1.RejectMemberResponse(member: member)
    }

    /// SuspendMember: ACTIVE → SUSPENDED with a coded reason.
    /// - Throws: INVALID_ARGUMENT (suspension_reason unspecified, reason empty); NOT_FOUND;
    ///   ABORTED; FAILED_PRECONDITION (not ACTIVE).
    public func suspendMember(
        _ request: RegistryV1.SuspendMemberRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.SuspendMemberResponse {
        guard Validate.known(request.suspensionReason) else {
            throw Validate.invalid("suspension_reason", "required")
        }
        let coded = request.suspensionReason
        let member = try await self.transition(
            id: request.memberId, version: request.version, reason: request.reason, caller: caller,
            from: [.active], to: .suspended, event: .suspended, checkNegativeList: false
        ) { _, entry in
            entry.suspensionReason = coded
        }
        return RegistryV1.SuspendMemberResponse(member: member)
    }

    /// ReinstateMember: SUSPENDED → ACTIVE after checking the negative list again.
    /// - Throws: INVALID_ARGUMENT (reason empty); NOT_FOUND; ABORTED; FAILED_PRECONDITION.
    public func reinstateMember(
        _ request: RegistryV1.ReinstateMemberRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.ReinstateMemberResponse {
        let member = try await self.transition(
            id: request.memberId, version: request.version, reason: request.reason, caller: caller,
            from: [.suspended], to: .active, event: .reinstated, checkNegativeList: true
        ) { _, _ in }
        return RegistryV1.ReinstateMemberResponse(member: member)
    }

    /// ExitMember (退出): ACTIVE or SUSPENDED → EXITED (final); the member's memberships end.
    /// - Throws: INVALID_ARGUMENT (exit_reason unspecified, reason empty, exit_date in the
    ///   future); NOT_FOUND; ABORTED; FAILED_PRECONDITION (EXITED, REJECTED or PENDING; the
    ///   member leads an active organisation).
    public func exitMember(
        _ request: RegistryV1.ExitMemberRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.ExitMemberResponse {
        guard Validate.known(request.exitReason) else {
            throw Validate.invalid("exit_reason", "required")
        }
        try Validate.date(request.exitDate, "exit_date")
        let today = Days.today(self.now())
        let day = request.exitDate.map(Days.number) ?? today
        guard day <= today else {
            throw Validate.invalid("exit_date", "must not be in the future")
        }
        let coded = request.exitReason
        let member = try await self.transition(
            id: request.memberId, version: request.version, reason: request.reason, caller: caller,
            from: [.active, .suspended], to: .exited, event: .exited, checkNegativeList: false
        ) { member, entry in
            member.exitDate = Days.date(day)
            entry.exitReason = coded
        } after: { connection, member, now in
            // As EndMembership: a member leading an organisation leaves it once it has another
            // leader (or none), so no organisation is left led by someone who exited.
            let led = try connection.query(
                """
                SELECT o.id, o.body FROM memberships s JOIN organisations o ON o.id = s.organisation_id
                WHERE s.member_id = ? AND s.active = 1 AND o.status = 1 ORDER BY o.id
                """, [.text(member.id)])
            for row in led where try Self.decode(RegistryV1.Organisation.self, row.bytes(1)).leaderMemberId == member.id {
                throw ServiceError.failedPrecondition(
                    reason: "the member leads the organisation; change its leader first",
                    subject: "organisation \(row.string(0))", errorReason: "INVALID_STATE_TRANSITION")
            }
            try Self.endMemberships(
                connection, column: "member_id", id: member.id, reason: request.reason, day: day, caller: caller, now: now)
        }
        return RegistryV1.ExitMemberResponse(member: member)
    }

    /// One lifecycle transition: version check, state check, optional negative-list check,
    /// the change, its history entry and its change event, in one transaction.
    private func transition(
        id: String, version: Int64, reason: String, caller: Caller, from: Set<RegistryV1.MemberStatus>,
        to: RegistryV1.MemberStatus, event: RegistryV1.HistoryEventKind, checkNegativeList: Bool,
        change: @escaping @Sendable (inout RegistryV1.Member, inout RegistryV1.HistoryEntry) -> Void,
        after: @escaping @Sendable (any SQLConnection, RegistryV1.Member, Int64) throws -> Void = { _, _, _ in }
    ) async throws(ServiceError) -> RegistryV1.Member {
        guard !id.isEmpty else {
            throw Validate.invalid("member_id", "required")
        }
        try Validate.version(version)
        try Validate.text(reason, "reason", 1...512)
        let now = self.now()
        let today = Days.today(now)
        return try await self.write { connection in
            var member = try Self.requireMember(connection, id: id, caller: caller)
            guard member.version == version else {
                throw ServiceError.aborted(currentVersion: member.version)
            }
            guard from.contains(member.status) else {
                throw ServiceError.failedPrecondition(
                    reason: "cannot go from \(member.status) to \(to)", subject: "member \(id)",
                    errorReason: "INVALID_STATE_TRANSITION")
            }
            if checkNegativeList {
                try Self.requireNotListed(connection, member: member, today: today)
            }
            let previousStatus = member.status
            member.status = to
            member.version += 1
            member.audit?.updateTime = Timestamps.make(now)
            member.audit?.updatedBy = caller.userID
            var entry = RegistryV1.HistoryEntry(
                memberId: id, eventKind: event, actorId: caller.userID, actorName: caller.displayName, reason: reason,
                previousMemberStatus: previousStatus, newMemberStatus: to, versionAfter: member.version)
            change(&member, &entry)
            try Self.storeMember(connection, member, isNew: false)
            try Self.appendHistory(connection, entry, now: now)
            try after(connection, member, now)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: .statusChanged, entityKind: .member, entityId: id, regionCode: member.regionCode,
                    actorId: caller.userID, version: member.version, member: member),
                now: now)
            return member
        }
    }

    /// ListMemberHistory, newest first.
    /// - Throws: INVALID_ARGUMENT (member_id empty, bad page_size or page_token); NOT_FOUND;
    ///   PERMISSION_DENIED (the member outside `scope`).
    public func listMemberHistory(
        _ request: RegistryV1.ListMemberHistoryRequest, scope: RegionScope = .unrestricted
    ) async throws(ServiceError) -> RegistryV1.ListMemberHistoryResponse {
        guard !request.memberId.isEmpty else {
            throw Validate.invalid("member_id", "required")
        }
        let pageSize = try Validate.pageSize(request.pageSize)
        let kinds = request.eventKinds.map { Int64($0.rawValue) }
        let fingerprint = PageToken.fingerprint(["history", request.memberId] + kinds.map(String.init))
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 1)
        let id = request.memberId
        return try await self.read { connection in
            guard let member = try connection.queryOne("SELECT region_key FROM members WHERE id = ?", [.text(id)]) else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Member", name: id)
            }
            try scope.require(regionKey: member.string(0), of: "member \(id)")
            var sql = "SELECT seq, body FROM history WHERE member_id = ?"
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
            var response = RegistryV1.ListMemberHistoryResponse()
            for row in rows.prefix(pageSize) {
                response.entries.append(try Self.decode(RegistryV1.HistoryEntry.self, row.bytes(1)))
            }
            if rows.count > pageSize {
                let last = rows[pageSize - 1]
                response.nextPageToken = PageToken.encode(fingerprint: fingerprint, keys: [String(last.int64(0))])
            }
            return response
        }
    }

    // MARK: - Rows

    /// The member `id` for a write by `caller`: NOT_FOUND, or PERMISSION_DENIED when it lies
    /// outside the caller's scope (checked before its version, which an outsider is not told).
    static func requireMember(_ connection: any SQLConnection, id: String, caller: Caller) throws -> RegistryV1.Member {
        guard let member = try Self.fetchMember(connection, id: id) else {
            throw ServiceError.notFound(resource: "tongxin.registry.v1.Member", name: id)
        }
        try caller.scope.require(regionCode: member.regionCode, of: "member \(id)")
        return member
    }

    static func fetchMember(_ connection: any SQLConnection, id: String) throws -> RegistryV1.Member? {
        try Self.fetchMemberBody(connection, id: id).map { try Self.decode(RegistryV1.Member.self, $0) }
    }

    /// The stored bytes of member `id`, or nil.
    static func fetchMemberBody(_ connection: any SQLConnection, id: String) throws -> [UInt8]? {
        try connection.queryOne("SELECT body FROM members WHERE id = ?", [.text(id)])?.bytes(0)
    }

    /// Writes the member's row, its specialty rows and its tallies.
    static func storeMember(_ connection: any SQLConnection, _ member: RegistryV1.Member, isNew: Bool) throws {
        var removed: [Tally] = []
        if !isNew, let body = try Self.fetchMemberBody(connection, id: member.id) {
            removed = Self.tallies(try Self.decode(RegistryV1.Member.self, body))
        }
        let added = Self.tallies(member)
        for tally in removed where !added.contains(tally) {
            try connection.execute(
                "UPDATE member_tallies SET n = n - 1 WHERE region_key = ? AND kind = ? AND category = ? AND bucket = ?",
                [.text(tally.regionKey), .integer(tally.kind), .integer(tally.category), .integer(tally.bucket)])
        }
        var increments: [Tally: Int64] = [:]
        for tally in added where !removed.contains(tally) {
            increments[tally, default: 0] += 1
        }
        try Self.addTallies(connection, increments)
        if isNew {
            try connection.insert(into: "members", Self.memberColumns, rows: [Self.memberRow(member)])
        } else {
            try connection.execute(
                """
                UPDATE members SET region_key = ?, category = ?, category_mask = ?, status = ?, name = ?,
                    resident_id = ?, credit_code = ?, industry_code = ?, native_key = ?, contact_cadre_id = ?,
                    admission_day = ?, exit_day = ?, version = ?, body = ?
                WHERE id = ?
                """, Self.memberRow(member))
            try connection.execute("DELETE FROM member_tags WHERE member_id = ?", [.text(member.id)])
        }
        try connection.insert(into: "member_tags", ["member_id", "kind", "value"], rows: Self.tagRows(member))
    }

    /// The columns of ``memberRow(_:)``, in its order (id last, for the UPDATE's WHERE).
    static let memberColumns = [
        "region_key", "category", "category_mask", "status", "name", "resident_id", "credit_code", "industry_code",
        "native_key", "contact_cadre_id", "admission_day", "exit_day", "version", "body", "id",
    ]

    /// The `members` row of `member`; `body` is its encoding when already made.
    static func memberRow(_ member: RegistryV1.Member, body: [UInt8]? = nil) -> [SQLValue] {
        let creditCode = member.privateEconomyDetails?.unifiedSocialCreditCode ?? ""
        return [
            .text(RegionKeys.key(member.regionCode)), .integer(Int64(member.category.rawValue)),
            .integer(Self.categoryMask([member.category] + member.additionalCategories)),
            .integer(Int64(member.status.rawValue)), .text(member.name),
            member.residentIdNumber.isEmpty ? .null : .text(member.residentIdNumber),
            creditCode.isEmpty ? .null : .text(creditCode),
            .text(member.industryCode), .text(RegionKeys.key(member.nativePlace?.regionCode ?? "")),
            .text(member.contactCadreId), member.admissionDate.map { .int(Days.number($0)) } ?? .null,
            member.exitDate.map { .int(Days.number($0)) } ?? .null, .integer(member.version),
            .blob(body ?? member.serializedBytes()), .text(member.id),
        ]
    }

    /// The bit of a category in `members.category_mask`: a member's primary and additional
    /// categories are kept as one integer in the region index, so a category filter is
    /// checked on the index entry (no tag rows to write, no row to read).
    static func categoryBit(_ category: RegistryV1.MemberCategory) -> Int64 {
        Int64(1) << Int64(min(62, max(0, category.rawValue)))
    }

    /// The `category_mask` of a member with `categories`.
    static func categoryMask(_ categories: [RegistryV1.MemberCategory]) -> Int64 {
        categories.reduce(0) { $0 | Self.categoryBit($1) }
    }

    /// The `member_tags` rows of `member`: its specialties (kind 2; kind 1, categories, went
    /// into `members.category_mask` in schema v6).
    static func tagRows(_ member: RegistryV1.Member) -> [[SQLValue]] {
        var rows: [[SQLValue]] = []
        for specialty in Set(member.specialties) {
            rows.append([.text(member.id), .integer(2), .text(specialty)])
        }
        return rows
    }

    /// Adds `delta` to each of `tallies` (creating missing rows), in one statement per chunk.
    static func addTallies(_ connection: any SQLConnection, _ tallies: [Tally: Int64]) throws {
        let rows: [[SQLValue]] = tallies.sorted { ($0.key.regionKey, $0.key.kind, $0.key.category, $0.key.bucket) < ($1.key.regionKey, $1.key.kind, $1.key.category, $1.key.bucket) }
            .map { [.text($0.key.regionKey), .integer($0.key.kind), .integer($0.key.category), .integer($0.key.bucket), .integer($0.value)] }
        try connection.insert(
            into: "member_tallies", ["region_key", "kind", "category", "bucket", "n"], rows: rows,
            suffix: "ON CONFLICT (region_key, kind, category, bucket) DO UPDATE SET n = member_tallies.n + excluded.n")
    }

    /// One count a member contributes to `member_tallies`.
    struct Tally: Hashable {
        var regionKey: String
        var kind: Int64
        var category: Int64
        var bucket: Int64
    }

    static func tallies(_ member: RegistryV1.Member) -> [Tally] {
        let key = RegionKeys.key(member.regionCode)
        let primary = Int64(member.category.rawValue)
        var tallies = [Tally(regionKey: key, kind: 1, category: primary, bucket: Int64(member.status.rawValue))]
        if member.status == .active {
            for category in Set([member.category] + member.additionalCategories) {
                tallies.append(Tally(regionKey: key, kind: 2, category: Int64(category.rawValue), bucket: 0))
            }
        }
        if member.status == .exited, let exit = member.exitDate {
            tallies.append(Tally(regionKey: key, kind: 3, category: primary, bucket: Int64(Days.number(exit))))
        }
        return tallies
    }

    /// A live member (PENDING, ACTIVE, SUSPENDED) already holding the number is ALREADY_EXISTS.
    static func requireResidentIDFree(_ connection: any SQLConnection, _ number: String, except id: String?) throws {
        guard !number.isEmpty else {
            return
        }
        let row = try connection.queryOne(
            "SELECT id FROM members WHERE resident_id = ? AND status IN (1, 2, 3) AND id <> ?",
            [.text(number), .text(id ?? "")])
        if row != nil {
            throw Self.residentIDTaken(number)
        }
    }

    /// ALREADY_EXISTS for a resident ID number a live member holds (masked in the message).
    static func residentIDTaken(_ number: String) -> ServiceError {
        .alreadyExists(resource: "tongxin.registry.v1.Member", name: "resident_id_number " + Self.maskedID(number))
    }

    static func maskedID(_ number: String) -> String {
        guard number.count == 18 else {
            return String(repeating: "*", count: number.count)
        }
        return String(number.prefix(6)) + String(repeating: "*", count: 8) + String(number.suffix(4))
    }

    /// Copies one updatable path of `source` into `target`.
    static func copy(_ path: String, from source: RegistryV1.Member, to target: inout RegistryV1.Member) {
        switch path {
        case "region_code": target.regionCode = source.regionCode
        case "category": target.category = source.category
        case "additional_categories": target.additionalCategories = source.additionalCategories
        case "name": target.name = source.name
        case "gender": target.gender = source.gender
        case "birth_date": target.birthDate = source.birthDate
        case "ethnicity_code": target.ethnicityCode = source.ethnicityCode
        case "resident_id_number": target.residentIdNumber = source.residentIdNumber
        case "mobile": target.mobile = source.mobile
        case "native_place": target.nativePlace = source.nativePlace
        case "industry_code": target.industryCode = source.industryCode
        case "specialties": target.specialties = source.specialties
        case "employer": target.employer = source.employer
        case "job_title": target.jobTitle = source.jobTitle
        case "education": target.education = source.education
        case "political_posts": target.politicalPosts = source.politicalPosts
        case "contact_cadre_id": target.contactCadreId = source.contactCadreId
        case "attributes": target.attributes = source.attributes
        case "democratic_party_details": target.democraticPartyDetails = source.democraticPartyDetails
        case "intellectual_details": target.intellectualDetails = source.intellectualDetails
        case "religious_details": target.religiousDetails = source.religiousDetails
        case "private_economy_details": target.privateEconomyDetails = source.privateEconomyDetails
        case "new_social_stratum_details": target.newSocialStratumDetails = source.newSocialStratumDetails
        case "overseas_study_details": target.overseasStudyDetails = source.overseasStudyDetails
        case "compatriot_details": target.compatriotDetails = source.compatriotDetails
        case "overseas_chinese_details": target.overseasChineseDetails = source.overseasChineseDetails
        default: break
        }
    }
}

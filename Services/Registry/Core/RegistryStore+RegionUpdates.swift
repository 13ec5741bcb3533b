import Model
import ServiceKit

extension RegistryStore {
    /// UpdateRegion: "name", "urban_rural_class" and "active". Renaming recomputes the full
    /// names of the whole subtree.
    /// - Throws: INVALID_ARGUMENT (mask, values); NOT_FOUND; ABORTED; FAILED_PRECONDITION
    ///   (deactivating a region with active children, live members or active organisations:
    ///   REGION_IN_USE).
    public func updateRegion(
        _ request: RegistryV1.UpdateRegionRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.UpdateRegionResponse {
        guard let input = request.region else {
            throw Validate.invalid("region", "required")
        }
        try caller.roles.require(.regionAdmin, for: "UpdateRegion")
        let code = try Validate.regionCode(input.code, "region.code")
        try caller.scope.requireCoversParent(of: code, field: "region.code")
        try Validate.version(input.version, "region.version")
        let paths = Array(Set(request.updateMask?.paths ?? [])).sorted()
        guard !paths.isEmpty else {
            throw Validate.invalid("update_mask", "must name at least one path", "INVALID_UPDATE_MASK")
        }
        for path in paths where !["name", "urban_rural_class", "active"].contains(path) {
            throw Validate.invalid("update_mask.paths", "\"\(path)\" cannot be updated", "INVALID_UPDATE_MASK")
        }
        if paths.contains("name") {
            try Validate.text(input.name, "region.name", 1...64)
        }
        if paths.contains("urban_rural_class") && !input.urbanRuralClass.isEmpty {
            guard input.urbanRuralClass.count == 3, input.urbanRuralClass.allSatisfy({ $0.isASCII && $0.isNumber }) else {
                throw Validate.invalid("region.urban_rural_class", "must be 3 digits or empty")
            }
        }
        let now = self.now()
        return try await self.write { connection in
            guard var region = try Self.fetchRegion(connection, code: code.code) else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Region", name: code.code)
            }
            guard region.version == input.version else {
                throw ServiceError.aborted(currentVersion: region.version)
            }
            let deactivating = paths.contains("active") && region.active && !input.active
            if deactivating {
                let (low, high) = RegionKeys.subtree(code)
                let children = try connection.queryOne(
                    "SELECT COUNT(*) FROM regions WHERE parent_code = ? AND active = 1", [.text(code.code)])
                let members = try connection.queryOne(
                    "SELECT COUNT(*) FROM members WHERE region_key BETWEEN ? AND ? AND status IN (1, 2, 3)",
                    [.text(low), .text(high)])
                let organisations = try connection.queryOne(
                    "SELECT COUNT(*) FROM organisations WHERE region_key BETWEEN ? AND ? AND status = 1",
                    [.text(low), .text(high)])
                let inUse = [
                    ("active child regions", children?.int64(0) ?? 0), ("members", members?.int64(0) ?? 0),
                    ("active organisations", organisations?.int64(0) ?? 0),
                ].filter { $0.1 > 0 }
                if !inUse.isEmpty {
                    throw ServiceError.failedPrecondition(
                        reason: "still has " + inUse.map { "\($0.1) \($0.0)" }.joined(separator: ", "),
                        subject: "region \(code.code)", errorReason: "REGION_IN_USE")
                }
            }
            let renamed = paths.contains("name") && input.name != region.name
            if paths.contains("name") {
                region.name = input.name
            }
            if paths.contains("urban_rural_class") {
                region.urbanRuralClass = input.urbanRuralClass
            }
            if paths.contains("active") {
                region.active = input.active
            }
            if renamed {
                let parentFullName = region.parentCode.isEmpty
                    ? "" : try Self.fetchRegion(connection, code: region.parentCode)?.fullName ?? ""
                region.fullName = parentFullName + region.name
            }
            region.version += 1
            region.audit?.updateTime = Timestamps.make(now)
            region.audit?.updatedBy = caller.userID
            try Self.storeRegion(connection, region, isNew: false)
            try Self.appendChange(
                connection,
                RegistryV1.ChangeEvent(
                    changeKind: paths.contains("active") && !region.active ? .statusChanged : .updated,
                    entityKind: .region, entityId: region.code, regionCode: region.code, actorId: caller.userID,
                    version: region.version, changedPaths: paths, region: region),
                now: now)
            if renamed {
                try Self.refreshFullNames(connection, below: region, caller: caller, now: now)
            }
            region.childCount = Int32(
                try connection.queryOne(
                    "SELECT COUNT(*) FROM regions WHERE parent_code = ? AND active = 1", [.text(region.code)]
                )?.int64(0) ?? 0)
            return RegistryV1.UpdateRegionResponse(region: region)
        }
    }

    /// Recomputes full_name below `parent`, level by level, with a change event per region.
    static func refreshFullNames(
        _ connection: any SQLConnection, below parent: RegistryV1.Region, caller: Caller, now: Int64
    ) throws {
        var level = [parent]
        while !level.isEmpty {
            var next: [RegistryV1.Region] = []
            for region in level {
                for row in try connection.query(
                    "SELECT body FROM regions WHERE parent_code = ? ORDER BY code", [.text(region.code)])
                {
                    var child = try Self.decode(RegistryV1.Region.self, row.bytes(0))
                    child.fullName = region.fullName + child.name
                    child.version += 1
                    child.audit?.updateTime = Timestamps.make(now)
                    child.audit?.updatedBy = caller.userID
                    try Self.storeRegion(connection, child, isNew: false)
                    try Self.appendChange(
                        connection,
                        RegistryV1.ChangeEvent(
                            changeKind: .updated, entityKind: .region, entityId: child.code, regionCode: child.code,
                            actorId: caller.userID, version: child.version, changedPaths: ["full_name"], region: child),
                        now: now)
                    next.append(child)
                }
            }
            level = next
        }
    }

    /// ListNegativeListEntries: entries that apply within a region subtree (entries added
    /// above it included), newest first.
    /// - Throws: INVALID_ARGUMENT (malformed filter, bad page_size or page_token).
    public func listNegativeListEntries(
        _ request: RegistryV1.ListNegativeListEntriesRequest
    ) async throws(ServiceError) -> RegistryV1.ListNegativeListEntriesResponse {
        let pageSize = try Validate.pageSize(request.pageSize)
        let today = Days.today(self.now())
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if !request.regionCode.isEmpty {
            // Entries inside the subtree, and entries of the region's ancestors (which apply in it).
            let region = try Validate.regionCode(request.regionCode, "region_code")
            let (low, high) = RegionKeys.subtree(region)
            let ancestors = ([region] + region.ancestors).map { $0.padded12 }
            conditions.append(
                "(region_key BETWEEN ? AND ? OR region_key IN (\(SQLText.placeholders(ancestors.count))))")
            parameters += [.text(low), .text(high)] + ancestors.map { .text($0) }
        }
        if request.subjectKind != .unspecified {
            conditions.append("subject_kind = ?")
            parameters.append(.integer(Int64(request.subjectKind.rawValue)))
        }
        if !request.includeInactive {
            conditions.append("removed = 0 AND effective_day <= ? AND (expiry_day IS NULL OR expiry_day >= ?)")
            parameters += [.int(today), .int(today)]
        }
        if !request.namePrefix.isEmpty {
            try Validate.text(request.namePrefix, "name_prefix", 1...128)
            conditions.append("substr(name, 1, \(request.namePrefix.count)) = ?")
            parameters.append(.text(request.namePrefix))
        }
        if !request.residentIdNumber.isEmpty {
            let number = try Validate.residentID(request.residentIdNumber, "resident_id_number", today: today)
            conditions.append("identifier = ?")
            parameters.append(.text(number.value))
        }
        if !request.unifiedSocialCreditCode.isEmpty {
            conditions.append("identifier = ?")
            parameters.append(.text(try Validate.creditCode(request.unifiedSocialCreditCode, "unified_social_credit_code")))
        }
        var filter = request
        filter.pageSize = 0
        filter.pageToken = ""
        let fingerprint = PageToken.fingerprint(["negative", String(decoding: filter.serializedBytes(), as: UTF8.self)])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 2)
        if let after {
            conditions.append("(create_us, id) < (?, ?)")
            parameters += [.integer(Int64(after[0]) ?? 0), .text(after[1])]
        }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let finalParameters = parameters + [.int(pageSize + 1)]
        return try await self.read { connection in
            let rows = try connection.query(
                "SELECT create_us, id, body FROM negative_list \(whereClause) ORDER BY create_us DESC, id DESC LIMIT ?",
                finalParameters)
            var response = RegistryV1.ListNegativeListEntriesResponse()
            for row in rows.prefix(pageSize) {
                var entry = try Self.decode(RegistryV1.NegativeListEntry.self, row.bytes(2))
                entry.active = Self.isActive(entry, today: today)
                response.entries.append(entry)
            }
            if rows.count > pageSize {
                let last = rows[pageSize - 1]
                response.nextPageToken = PageToken.encode(
                    fingerprint: fingerprint, keys: [String(last.int64(0)), last.string(1)])
            }
            return response
        }
    }
}

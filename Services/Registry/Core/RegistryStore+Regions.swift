import Model
import ServiceKit

extension RegistryStore {
    /// ImportRegions: creates new codes and updates known ones (name, parent,
    /// classification) in one transaction; codes not in the request are left alone. A dry
    /// run validates and counts without writing.
    /// - Throws: INVALID_ARGUMENT (a malformed code, a missing name, an unknown parent, a
    ///   level or prefix mismatch, a duplicate code, more than 50,000 nodes: the field is e.g.
    ///   "regions[12].parent_code"); ALREADY_EXISTS (request_id reused for another request).
    public func importRegions(
        _ request: RegistryV1.ImportRegionsRequest, caller: Caller
    ) async throws(ServiceError) -> RegistryV1.ImportRegionsResponse {
        try caller.roles.require(.regionAdmin, for: "ImportRegions")
        for (index, node) in request.regions.enumerated() {
            if let code = try? RegionCode(validating: node.code) {
                try caller.scope.requireCoversParent(of: code, field: "regions[\(index)].code")
            }
        }
        try Validate.requestID(request.requestId)
        guard !request.regions.isEmpty else {
            throw Validate.invalid("regions", "at least one region is required")
        }
        guard request.regions.count <= 50_000 else {
            throw Validate.invalid("regions", "at most 50,000 regions per request, got \(request.regions.count)")
        }
        struct Node: Sendable {
            var index: Int
            var code: RegionCode
            var node: RegistryV1.RegionImportNode
        }
        var nodes: [String: Node] = [:]
        for (index, node) in request.regions.enumerated() {
            let field = "regions[\(index)]"
            let code = try Validate.regionCode(node.code, "\(field).code")
            guard nodes[code.code] == nil else {
                throw Validate.invalid("\(field).code", "\(code.code) appears twice in the request")
            }
            try Validate.text(node.name, "\(field).name", 1...64)
            if !node.urbanRuralClass.isEmpty {
                guard node.urbanRuralClass.count == 3, node.urbanRuralClass.allSatisfy(\.isASCII),
                    node.urbanRuralClass.allSatisfy(\.isNumber)
                else {
                    throw Validate.invalid("\(field).urban_rural_class", "must be 3 digits or empty")
                }
            }
            if node.parentCode.isEmpty {
                guard code.level == .province else {
                    throw Validate.invalid(
                        "\(field).parent_code", "required for a \(code.level); only the province has none")
                }
            } else {
                let parent = try Validate.regionCode(node.parentCode, "\(field).parent_code")
                guard parent.level < code.level else {
                    throw Validate.invalid(
                        "\(field).parent_code",
                        "\(parent.code) is a \(parent.level), not above the \(code.level) \(code.code)",
                        "INVALID_REGION_CODE")
                }
                guard code.padded12.hasPrefix(RegionKeys.prefix(parent)) else {
                    throw Validate.invalid(
                        "\(field).parent_code", "\(code.code) does not share the leading digits of \(parent.code)",
                        "INVALID_REGION_CODE")
                }
            }
            nodes[code.code] = Node(index: index, code: code, node: node)
        }
        let ordered = nodes.values.sorted { ($0.code.level, $0.code) < ($1.code.level, $1.code) }
        let requestBytes = request.serializedBytes()
        let now = self.now()
        return try await self.write { connection in
            if !request.dryRun,
                let previous = try Self.replay(
                    connection, caller: caller, method: "ImportRegions", requestID: request.requestId,
                    request: requestBytes, now: now)
            {
                return try Self.decode(RegistryV1.ImportRegionsResponse.self, previous)
            }
            var response = RegistryV1.ImportRegionsResponse(dryRun: request.dryRun)
            var fullNames: [String: String] = [:]
            for item in ordered {
                let node = item.node
                let code = item.code.code
                let parentCode = node.parentCode.isEmpty ? "" : RegionKeys.short(node.parentCode)
                var parentFullName = ""
                if !parentCode.isEmpty {
                    if let known = fullNames[parentCode] {
                        parentFullName = known
                    } else if let parent = try Self.fetchRegion(connection, code: parentCode) {
                        parentFullName = parent.fullName
                    } else {
                        throw Validate.invalid(
                            "regions[\(item.index)].parent_code",
                            "\(parentCode) is neither in the request nor in the registry")
                    }
                }
                let fullName = parentFullName + node.name
                fullNames[code] = fullName
                let existing = try Self.fetchRegion(connection, code: code)
                if var region = existing {
                    if region.name == node.name && region.parentCode == parentCode
                        && region.urbanRuralClass == node.urbanRuralClass && region.fullName == fullName
                    {
                        response.unchangedCount += 1
                        continue
                    }
                    response.updatedCount += 1
                    if request.dryRun {
                        continue
                    }
                    region.name = node.name
                    region.parentCode = parentCode
                    region.urbanRuralClass = node.urbanRuralClass
                    region.fullName = fullName
                    region.version += 1
                    region.audit?.updateTime = Timestamps.make(now)
                    region.audit?.updatedBy = caller.userID
                    try Self.storeRegion(connection, region, isNew: false)
                    try Self.appendChange(
                        connection,
                        RegistryV1.ChangeEvent(
                            changeKind: .updated, entityKind: .region, entityId: code, regionCode: code,
                            actorId: caller.userID, version: region.version,
                            changedPaths: ["name", "parent_code", "urban_rural_class", "full_name"], region: region),
                        now: now)
                } else {
                    response.createdCount += 1
                    if request.dryRun {
                        continue
                    }
                    let region = RegistryV1.Region(
                        code: code, name: node.name, fullName: fullName,
                        level: CommonV1.RegionLevel(rawValue: Int32(item.code.level.rawValue)),
                        parentCode: parentCode, urbanRuralClass: node.urbanRuralClass, active: true, version: 1,
                        audit: CommonV1.AuditInfo(
                            createTime: Timestamps.make(now), updateTime: Timestamps.make(now),
                            createdBy: caller.userID, updatedBy: caller.userID))
                    try Self.storeRegion(connection, region, isNew: true)
                    try Self.appendChange(
                        connection,
                        RegistryV1.ChangeEvent(
                            changeKind: .created, entityKind: .region, entityId: code, regionCode: code,
                            actorId: caller.userID, version: 1, region: region),
                        now: now)
                }
            }
            if !request.dryRun {
                try Self.remember(
                    connection, caller: caller, method: "ImportRegions", requestID: request.requestId,
                    request: requestBytes, response: response.serializedBytes(), now: now)
            }
            return response
        }
    }

    /// GetRegion.
    /// - Throws: INVALID_ARGUMENT (code malformed); NOT_FOUND.
    public func getRegion(_ request: RegistryV1.GetRegionRequest) async throws(ServiceError) -> RegistryV1.GetRegionResponse {
        let code = try Validate.regionCode(request.code, "code").code
        let region = try await self.read { connection in
            try Self.fetchRegion(connection, code: code, withChildCount: true)
        }
        guard let region else {
            throw ServiceError.notFound(resource: "tongxin.registry.v1.Region", name: code)
        }
        return RegistryV1.GetRegionResponse(region: region)
    }

    /// ListChildRegions, ordered by code; an empty parent_code lists the province.
    /// - Throws: INVALID_ARGUMENT (parent_code malformed, bad page_size or page_token);
    ///   NOT_FOUND (no such parent).
    public func listChildRegions(
        _ request: RegistryV1.ListChildRegionsRequest
    ) async throws(ServiceError) -> RegistryV1.ListChildRegionsResponse {
        let parent = request.parentCode.isEmpty ? "" : try Validate.regionCode(request.parentCode, "parent_code").code
        let pageSize = try Validate.pageSize(request.pageSize)
        let fingerprint = PageToken.fingerprint(["children", parent, request.includeInactive ? "1" : "0"])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 1)?.first ?? ""
        return try await self.read { connection in
            if !parent.isEmpty, try Self.fetchRegion(connection, code: parent) == nil {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Region", name: parent)
            }
            let rows = try connection.query(
                """
                SELECT r.body, (SELECT COUNT(*) FROM regions c WHERE c.parent_code = r.code AND c.active = 1)
                FROM regions r
                WHERE r.parent_code = ? AND r.code > ? AND (r.active = 1 OR ? = 1)
                ORDER BY r.code LIMIT ?
                """,
                [.text(parent), .text(after), .bool(request.includeInactive), .int(pageSize + 1)])
            var response = RegistryV1.ListChildRegionsResponse()
            for row in rows.prefix(pageSize) {
                var region = try Self.decode(RegistryV1.Region.self, row.bytes(0))
                region.childCount = Int32(row.int64(1))
                response.regions.append(region)
            }
            if rows.count > pageSize, let last = response.regions.last {
                response.nextPageToken = PageToken.encode(fingerprint: fingerprint, keys: [last.code])
            }
            return response
        }
    }

    /// ListRegionAncestors: the province first, the parent last.
    /// - Throws: INVALID_ARGUMENT (code malformed); NOT_FOUND.
    public func listRegionAncestors(
        _ request: RegistryV1.ListRegionAncestorsRequest
    ) async throws(ServiceError) -> RegistryV1.ListRegionAncestorsResponse {
        let code = try Validate.regionCode(request.code, "code").code
        return try await self.read { connection in
            guard var region = try Self.fetchRegion(connection, code: code) else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Region", name: code)
            }
            var ancestors: [RegistryV1.Region] = []
            while !region.parentCode.isEmpty {
                guard let parent = try Self.fetchRegion(connection, code: region.parentCode, withChildCount: true)
                else {
                    throw ServiceError.internal(cause: "region \(region.code) has a missing parent")
                }
                ancestors.append(parent)
                region = parent
            }
            return RegistryV1.ListRegionAncestorsResponse(ancestors: ancestors.reversed())
        }
    }

    static func fetchRegion(
        _ connection: any SQLConnection, code: String, withChildCount: Bool = false
    ) throws -> RegistryV1.Region? {
        guard let row = try connection.queryOne("SELECT body FROM regions WHERE code = ?", [.text(code)]) else {
            return nil
        }
        var region = try Self.decode(RegistryV1.Region.self, row.bytes(0))
        if withChildCount {
            let count = try connection.queryOne(
                "SELECT COUNT(*) FROM regions WHERE parent_code = ? AND active = 1", [.text(code)])
            region.childCount = Int32(count?.int64(0) ?? 0)
        }
        return region
    }

    static func storeRegion(_ connection: any SQLConnection, _ region: RegistryV1.Region, isNew: Bool) throws {
        var stored = region
        stored.childCount = 0
        let values: [SQLValue] = [
            .text(RegionKeys.key(region.code)), .text(region.parentCode), .text(region.name),
            .integer(Int64(region.level.rawValue)), .bool(region.active), .integer(region.version),
            .blob(stored.serializedBytes()), .text(region.code),
        ]
        if isNew {
            try connection.execute(
                """
                INSERT INTO regions (region_key, parent_code, name, level, active, version, body, code)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, values)
        } else {
            try connection.execute(
                """
                UPDATE regions SET region_key = ?, parent_code = ?, name = ?, level = ?, active = ?, version = ?,
                    body = ? WHERE code = ?
                """, values)
        }
    }

    /// The region a record is placed in: it must exist (NOT_FOUND) and be active
    /// (FAILED_PRECONDITION).
    static func requireActiveRegion(
        _ connection: any SQLConnection, code: String, field: String
    ) throws -> RegistryV1.Region {
        try Self.requireActive(try Self.fetchRegion(connection, code: code), code: code, field: field)
    }

    /// `region` (fetched for `code`) if it exists and is active; else NOT_FOUND or
    /// FAILED_PRECONDITION as ``requireActiveRegion(_:code:field:)`` throws them.
    static func requireActive(_ region: RegistryV1.Region?, code: String, field: String) throws -> RegistryV1.Region {
        guard let region else {
            throw Self.regionNotFound(code)
        }
        try Self.requireActive(region.active, code: code, field: field)
        return region
    }

    /// The same check on whether the region of `code` is active (nil: there is no such region).
    static func requireActive(_ active: Bool?, code: String, field: String) throws {
        guard let active else {
            throw Self.regionNotFound(code)
        }
        guard active else {
            throw ServiceError.failedPrecondition(
                reason: "region \(code) is inactive and accepts no new records", subject: field,
                errorReason: "INVALID_STATE_TRANSITION")
        }
    }

    private static func regionNotFound(_ code: String) -> ServiceError {
        .notFound(resource: "tongxin.registry.v1.Region", name: code)
    }
}

extension RegionKeys {
    /// The short form of a valid code (6 digits to county, else 12); `code` itself otherwise.
    static func short(_ code: String) -> String {
        (try? RegionCode(validating: code))?.code ?? code
    }
}

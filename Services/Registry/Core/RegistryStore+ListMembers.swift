import Model
import ServiceKit

extension RegistryStore {
    /// ListMembers: members of a region subtree with filters, ordered by region code, name
    /// and id, in keyset pages (a page never repeats or skips a member that stays put).
    /// - Throws: INVALID_ARGUMENT (a malformed filter, bad page_size or page_token).
    public func listMembers(_ request: RegistryV1.ListMembersRequest) async throws(ServiceError) -> RegistryV1.ListMembersResponse {
        let pageSize = try Validate.pageSize(request.pageSize)
        var conditions: [String] = []
        var parameters: [SQLValue] = []
        if !request.regionCode.isEmpty {
            let (low, high) = RegionKeys.subtree(try Validate.regionCode(request.regionCode, "region_code"))
            conditions.append("m.region_key BETWEEN ? AND ?")
            parameters += [.text(low), .text(high)]
        }
        if request.category != .unspecified {
            guard Validate.known(request.category) else {
                throw Validate.invalid("category", "not a member category")
            }
            conditions.append("(m.category_mask & ?) <> 0")
            parameters.append(.integer(Self.categoryBit(request.category)))
        }
        if request.status != .unspecified {
            guard Validate.known(request.status) else {
                throw Validate.invalid("status", "not a member status")
            }
            conditions.append("m.status = ?")
            parameters.append(.integer(Int64(request.status.rawValue)))
        }
        if !request.nativePlaceRegionCode.isEmpty {
            let (low, high) = RegionKeys.subtree(
                try Validate.regionCode(request.nativePlaceRegionCode, "native_place_region_code"))
            conditions.append("m.native_key BETWEEN ? AND ?")
            parameters += [.text(low), .text(high)]
        }
        if !request.industryCode.isEmpty {
            try Validate.text(request.industryCode, "industry_code", 1...5)
            // The length is inlined: PostgreSQL has no substr(text, int, bigint).
            conditions.append("substr(m.industry_code, 1, \(request.industryCode.count)) = ?")
            parameters.append(.text(request.industryCode))
        }
        if !request.specialty.isEmpty {
            conditions.append(
                "EXISTS (SELECT 1 FROM member_tags t WHERE t.member_id = m.id AND t.kind = 2 AND t.value = ?)")
            parameters.append(.text(request.specialty))
        }
        if !request.namePrefix.isEmpty {
            try Validate.text(request.namePrefix, "name_prefix", 1...64)
            conditions.append("substr(m.name, 1, \(request.namePrefix.count)) = ?")
            parameters.append(.text(request.namePrefix))
        }
        if !request.residentIdNumber.isEmpty {
            let today = Days.today(self.now())
            let number = try Validate.residentID(request.residentIdNumber, "resident_id_number", today: today)
            conditions.append("m.resident_id = ?")
            parameters.append(.text(number.value))
        }
        if !request.organisationId.isEmpty {
            conditions.append(
                "EXISTS (SELECT 1 FROM memberships s WHERE s.member_id = m.id AND s.organisation_id = ? AND s.active = 1)")
            parameters.append(.text(request.organisationId))
        }
        if !request.contactCadreId.isEmpty {
            conditions.append("m.contact_cadre_id = ?")
            parameters.append(.text(request.contactCadreId))
        }
        var filter = request
        filter.pageSize = 0
        filter.pageToken = ""
        let fingerprint = PageToken.fingerprint(["members", String(decoding: filter.serializedBytes(), as: UTF8.self)])
        let after = try PageToken.decode(request.pageToken, fingerprint: fingerprint, keys: 4)
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let filterParameters = parameters
        let filterConditions = conditions
        return try await self.read { connection in
            var response = RegistryV1.ListMembersResponse()
            if let after {
                response.totalSize = Int32(after[3]) ?? 0
            } else {
                let count = try connection.queryOne("SELECT COUNT(*) FROM members m \(whereClause)", filterParameters)
                response.totalSize = Int32(count?.int64(0) ?? 0)
            }
            var sql = "SELECT m.region_key, m.name, m.id, m.body FROM members m "
            var parameters = filterParameters
            var pageConditions = filterConditions
            if let after {
                pageConditions.append("(m.region_key, m.name, m.id) > (?, ?, ?)")
                parameters += [.text(after[0]), .text(after[1]), .text(after[2])]
            }
            if !pageConditions.isEmpty {
                sql += "WHERE " + pageConditions.joined(separator: " AND ")
            }
            sql += " ORDER BY m.region_key, m.name, m.id LIMIT ?"
            parameters.append(.int(pageSize + 1))
            let rows = try connection.query(sql, parameters)
            for row in rows.prefix(pageSize) {
                response.members.append(try Self.decode(RegistryV1.Member.self, row.bytes(3)))
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
}

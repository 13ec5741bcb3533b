import Model
import ServiceKit

extension RegistryStore {
    /// GetRegistryStatistics: member figures by category for a region and its descendants
    /// down to `depth` levels, each row rolled up over its subtree, plus the township and
    /// village totals. Member figures are sums of `member_tallies` (kept with every member
    /// change), one grouped range scan per prefix length for every row of that length.
    ///
    /// members_with_overdue_contact evaluates the contact rules for the whole subtree, once.
    /// - Throws: INVALID_ARGUMENT (region_code malformed, depth outside 0–2, bad
    ///   as_of_date); NOT_FOUND (region).
    public func registryStatistics(
        _ request: RegistryV1.GetRegistryStatisticsRequest
    ) async throws(ServiceError) -> RegistryV1.GetRegistryStatisticsResponse {
        let root = try Validate.regionCode(request.regionCode, "region_code")
        guard (0...2).contains(request.depth) else {
            throw Validate.invalid("depth", "must be 0, 1 or 2")
        }
        try Validate.date(request.asOfDate, "as_of_date")
        let now = self.now()
        let year = request.year == 0 ? Int(Days.date(Days.today(now)).year) : Int(request.year)
        guard (1900...2200).contains(year) else {
            throw Validate.invalid("year", "must be 1900–2200 or 0")
        }
        let yearStart = Days.number(year: year, month: 1, day: 1)
        let yearEnd = Days.number(year: year, month: 12, day: 31)
        let depth = Int(request.depth)
        let asOf = request.asOfDate.map(Days.number) ?? Days.today(now)
        return try await self.read { connection in
            guard let rootRegion = try Self.fetchRegion(connection, code: root.code) else {
                throw ServiceError.notFound(resource: "tongxin.registry.v1.Region", name: root.code)
            }
            var regions = [rootRegion]
            var level = [rootRegion]
            for _ in 0..<depth {
                var next: [RegistryV1.Region] = []
                for parent in level {
                    let rows = try connection.query(
                        "SELECT body FROM regions WHERE parent_code = ? AND active = 1 ORDER BY code",
                        [.text(parent.code)])
                    next += try rows.map { try Self.decode(RegistryV1.Region.self, $0.bytes(0)) }
                }
                regions += next
                level = next
            }
            let (low, high) = RegionKeys.subtree(root)
            var figures: [String: RegistryV1.RegionStatistics] = [:]
            var categoryFigures: [String: [Int32: RegistryV1.CategoryCount]] = [:]
            var organisationKinds: [String: [Int32: Int32]] = [:]
            let lengths = Set(regions.map { ((try? RegionCode(validating: $0.code)).map(RegionKeys.prefix) ?? $0.code).count })
            for length in lengths {
                let group = "substr(region_key, 1, \(length))"
                func category(_ prefix: String, _ raw: Int64) -> RegistryV1.CategoryCount {
                    categoryFigures[prefix]?[Int32(raw)]
                        ?? RegistryV1.CategoryCount(category: RegistryV1.MemberCategory(rawValue: Int32(raw)))
                }
                // Sums of the member tallies: a few rows per region, not one per member.
                for row in try connection.query(
                    """
                    SELECT \(group), kind, category, bucket, CAST(SUM(n) AS BIGINT) FROM member_tallies
                    WHERE region_key BETWEEN ? AND ? AND n <> 0 AND (kind <> 3 OR bucket BETWEEN ? AND ?)
                    GROUP BY \(group), kind, category, bucket
                    """, [.text(low), .text(high), .int(yearStart), .int(yearEnd)])
                {
                    let prefix = row.string(0)
                    let count = Int32(row.int64(4))
                    var figure = figures[prefix] ?? RegistryV1.RegionStatistics()
                    var byCategory = category(prefix, row.int64(2))
                    switch row.int64(1) {
                    case 1:
                        switch RegistryV1.MemberStatus(rawValue: Int32(row.int64(3))) {
                        case .active:
                            figure.activeMembers += count
                            byCategory.activeMembers += count
                        case .pending:
                            figure.pendingMembers += count
                            byCategory.pendingMembers += count
                        case .suspended:
                            figure.suspendedMembers += count
                            byCategory.suspendedMembers += count
                        default:
                            break
                        }
                    case 2:
                        byCategory.activeMembersAny += count
                    default:
                        figure.exitedMembers += count
                        byCategory.exitedMembers += count
                    }
                    figures[prefix] = figure
                    categoryFigures[prefix, default: [:]][Int32(row.int64(2))] = byCategory
                }
                for row in try connection.query(
                    """
                    SELECT \(group), level, COUNT(*) FROM regions
                    WHERE region_key BETWEEN ? AND ? AND active = 1 AND level IN (4, 5)
                    GROUP BY \(group), level
                    """, [.text(low), .text(high)])
                {
                    let prefix = row.string(0)
                    if row.int64(1) == 4 {
                        figures[prefix, default: RegistryV1.RegionStatistics()].townshipsTotal += Int32(row.int64(2))
                    } else {
                        figures[prefix, default: RegistryV1.RegionStatistics()].villagesTotal += Int32(row.int64(2))
                    }
                }
                for row in try connection.query(
                    """
                    SELECT \(group), kind, COUNT(*) FROM organisations
                    WHERE region_key BETWEEN ? AND ? AND status = 1 GROUP BY \(group), kind
                    """, [.text(low), .text(high)])
                {
                    let prefix = row.string(0)
                    let count = Int32(row.int64(2))
                    figures[prefix, default: RegistryV1.RegionStatistics()].activeOrganisations += count
                    organisationKinds[prefix, default: [:]][Int32(row.int64(1)), default: 0] += count
                }
                let regionGroup = "substr(r.region_key, 1, \(length))"
                for row in try connection.query(
                    """
                    SELECT \(regionGroup), COUNT(*) FROM regions r
                    WHERE r.region_key BETWEEN ? AND ? AND r.active = 1 AND r.level = 5 AND EXISTS (
                        SELECT 1 FROM organisations o WHERE o.region_key = r.region_key AND o.kind = 8 AND o.status = 1)
                    GROUP BY \(regionGroup)
                    """, [.text(low), .text(high)])
                {
                    figures[row.string(0), default: RegistryV1.RegionStatistics()].villagesWithLiaisonStation +=
                        Int32(row.int64(1))
                }
                for row in try connection.query(
                    """
                    SELECT \(regionGroup), COUNT(*) FROM regions r
                    WHERE r.region_key BETWEEN ? AND ? AND r.active = 1 AND r.level = 4 AND EXISTS (
                        SELECT 1 FROM organisations o WHERE o.status = 1
                        AND o.region_key BETWEEN r.region_key AND substr(r.region_key, 1, 9) || '999')
                    GROUP BY \(regionGroup)
                    """, [.text(low), .text(high)])
                {
                    figures[row.string(0), default: RegistryV1.RegionStatistics()].townshipsWithOrganisation +=
                        Int32(row.int64(1))
                }
                for row in try connection.query(
                    """
                    SELECT \(group), COUNT(*) FROM contacts
                    WHERE region_key BETWEEN ? AND ? AND contact_us >= ? AND contact_us < ? GROUP BY \(group)
                    """,
                    [
                        .text(low), .text(high), .integer(Days.startMicroseconds(yearStart)),
                        .integer(Days.startMicroseconds(yearEnd + 1)),
                    ])
                {
                    figures[row.string(0), default: RegistryV1.RegionStatistics()].contactRecords += Int32(row.int64(1))
                }
            }
            let overdueKeys = Set(
                try Self.overdue(connection, asOf: asOf, range: (low, high), cadreID: "", category: .unspecified)
                    .map { "\(RegionKeys.key($0.regionCode)) \($0.memberId)" })
            var response = RegistryV1.GetRegistryStatisticsResponse(computeTime: Timestamps.make(now))
            let ordered = [regions[0]] + regions.dropFirst().sorted { $0.code < $1.code }
            for region in ordered {
                let prefix = (try? RegionCode(validating: region.code)).map(RegionKeys.prefix) ?? region.code
                var figure = figures[prefix] ?? RegistryV1.RegionStatistics()
                figure.region = CommonV1.RegionKey(regionCode: region.code, regionName: region.name, level: region.level)
                figure.categories = (categoryFigures[prefix] ?? [:]).values
                    .filter {
                        $0.activeMembers + $0.activeMembersAny + $0.pendingMembers + $0.suspendedMembers
                            + $0.exitedMembers > 0
                    }
                    .sorted { $0.category.rawValue < $1.category.rawValue }
                figure.organisationKinds = (organisationKinds[prefix] ?? [:]).sorted { $0.key < $1.key }.map {
                    RegistryV1.OrganisationKindCount(
                        kind: RegistryV1.OrganisationKind(rawValue: $0.key), activeOrganisations: $0.value)
                }
                figure.membersWithOverdueContact = Int32(overdueKeys.filter { $0.hasPrefix(prefix) }.count)
                response.regions.append(figure)
            }
            return response
        }
    }
}

import Foundation
import Model
import RegistryCore

/// A small region tree of Shenzhen and valid identifiers for tests.
enum Fixtures {
    /// The provincial administrator: may see personal data in the whole fixture province.
    static let caller = Caller(
        userID: "u-admin", displayName: "管理员", personalDataRegions: [try! RegionCode(validating: "440000")])

    /// 2026-06-15 12:00 China Standard Time, in microseconds since 1970 UTC.
    @Sendable static func noon() -> Int64 {
        1_781_496_000_000_000
    }

    static let tree: [RegistryV1.RegionImportNode] = [
        .init(code: "440000", name: "广东省"),
        .init(code: "440300", name: "深圳市", parentCode: "440000"),
        .init(code: "440305", name: "南山区", parentCode: "440300"),
        .init(code: "440304", name: "福田区", parentCode: "440300"),
        .init(code: "440305001000", name: "南头街道", parentCode: "440305", urbanRuralClass: "111"),
        .init(code: "440305001001", name: "南头城社区", parentCode: "440305001000", urbanRuralClass: "111"),
        .init(code: "440305001002", name: "大新社区", parentCode: "440305001000", urbanRuralClass: "111"),
        .init(code: "440304002000", name: "华富街道", parentCode: "440304", urbanRuralClass: "111"),
    ]

    static func importTree(_ store: RegistryStore) async throws {
        _ = try await store.importRegions(
            RegistryV1.ImportRegionsRequest(requestId: "tree-1", regions: Self.tree), caller: Self.caller)
    }

    /// A valid resident ID number born 1990-01-01 in 440305, sequence `sequence` (odd: male).
    static func residentID(_ sequence: Int) -> String {
        let digits = String(sequence % 1000)
        let first17 = "44030519900101" + String(repeating: "0", count: 3 - digits.count) + digits
        return first17 + String(ResidentIDNumber.checkCharacter(for: first17)!)
    }

    static func member(
        _ name: String, region: String = "440305001001", category: RegistryV1.MemberCategory = .nonPartyIntellectual,
        id: Int? = nil, specialties: [String] = []
    ) -> RegistryV1.Member {
        RegistryV1.Member(
            regionCode: region, category: category, name: name, residentIdNumber: id.map(Self.residentID) ?? "",
            mobile: "13800138000", industryCode: "C27", specialties: specialties)
    }

    static func create(
        _ store: RegistryStore, _ member: RegistryV1.Member, requestID: String? = nil, admit: Bool = false
    ) async throws -> RegistryV1.Member {
        let response = try await store.createMember(
            RegistryV1.CreateMemberRequest(requestId: requestID ?? "req-" + UUID().uuidString, member: member, admit: admit),
            caller: Self.caller)
        return response.member!
    }
}

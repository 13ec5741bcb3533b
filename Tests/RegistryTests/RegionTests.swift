import Model
import RegistryCore
import ServiceKit
import Testing

@Suite("Regions")
struct RegionTests {
    @Test("import, get, children, ancestors", arguments: Engine.allCases)
    func importAndRead(engine: Engine) async throws {
        try await withStore(engine) { store in
            let first = try await store.importRegions(
                RegistryV1.ImportRegionsRequest(requestId: "tree-1", regions: Fixtures.tree), caller: Fixtures.caller)
            #expect(first.createdCount == 8)
            #expect(first.updatedCount == 0)

            let village = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305001001")).region!
            #expect(village.fullName == "广东省深圳市南山区南头街道南头城社区")
            #expect(village.level == .village)
            #expect(village.parentCode == "440305001000")
            #expect(village.version == 1)

            let township = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305001000")).region!
            #expect(township.childCount == 2)

            let children = try await store.listChildRegions(RegistryV1.ListChildRegionsRequest(parentCode: "440300"))
            #expect(children.regions.map(\.code) == ["440304", "440305"])
            let root = try await store.listChildRegions(RegistryV1.ListChildRegionsRequest())
            #expect(root.regions.map(\.code) == ["440000"])

            let pageOne = try await store.listChildRegions(
                RegistryV1.ListChildRegionsRequest(parentCode: "440305001000", pageSize: 1))
            #expect(pageOne.regions.map(\.code) == ["440305001001"])
            let pageTwo = try await store.listChildRegions(
                RegistryV1.ListChildRegionsRequest(
                    parentCode: "440305001000", pageSize: 1, pageToken: pageOne.nextPageToken))
            #expect(pageTwo.regions.map(\.code) == ["440305001002"])
            #expect(pageTwo.nextPageToken.isEmpty)

            let ancestors = try await store.listRegionAncestors(RegistryV1.ListRegionAncestorsRequest(code: "440305001001"))
            #expect(ancestors.ancestors.map(\.code) == ["440000", "440300", "440305", "440305001000"])

            // The same request again returns the first result; a re-import with a new id
            // reports every node unchanged.
            let replay = try await store.importRegions(
                RegistryV1.ImportRegionsRequest(requestId: "tree-1", regions: Fixtures.tree), caller: Fixtures.caller)
            #expect(replay == first)
            let again = try await store.importRegions(
                RegistryV1.ImportRegionsRequest(requestId: "tree-2", regions: Fixtures.tree), caller: Fixtures.caller)
            #expect(again.unchangedCount == 8)
        }
    }

    @Test("import rejects bad nodes naming the field", arguments: Engine.allCases)
    func importErrors(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let orphan = await expectServiceError {
                try await store.importRegions(
                    RegistryV1.ImportRegionsRequest(
                        requestId: "bad-1", regions: [.init(code: "440306", name: "宝安区", parentCode: "440400")]),
                    caller: Fixtures.caller)
            }
            guard case .invalidArgument(let field, _, _) = orphan else {
                Issue.record("expected INVALID_ARGUMENT, got \(String(describing: orphan))")
                return
            }
            #expect(field == "regions[0].parent_code")

            let mismatch = await expectServiceError {
                try await store.importRegions(
                    RegistryV1.ImportRegionsRequest(
                        requestId: "bad-2", regions: [.init(code: "440306", name: "宝安区", parentCode: "440100")]),
                    caller: Fixtures.caller)
            }
            #expect(mismatch.map { if case .invalidArgument(let field, _, _) = $0 { field } else { "" } } == "regions[0].parent_code")

            let malformed = await expectServiceError {
                try await store.getRegion(RegistryV1.GetRegionRequest(code: "99"))
            }
            #expect(malformed.map { if case .invalidArgument(let field, _, "INVALID_REGION_CODE") = $0 { field } else { "" } } == "code")

            let missing = await expectServiceError {
                try await store.getRegion(RegistryV1.GetRegionRequest(code: "440306"))
            }
            #expect(missing == .notFound(resource: "tongxin.registry.v1.Region", name: "440306"))

            let conflict = await expectServiceError {
                try await store.importRegions(
                    RegistryV1.ImportRegionsRequest(requestId: "tree-1", regions: [.init(code: "440000", name: "广东")]),
                    caller: Fixtures.caller)
            }
            #expect(conflict == .alreadyExists(resource: "request_id", name: "tree-1", errorReason: "REQUEST_ID_CONFLICT"))
        }
    }
}

import Model
import RegistryCore
import ServiceKit
import Testing

@Suite("Region updates, region files, negative-list listing")
struct RegionUpdateTests {
    @Test("renaming refreshes full names below; deactivating a region in use fails", arguments: Engine.allCases)
    func updateRegion(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            let township = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305001000")).region!
            var renamed = township
            renamed.name = "南头新街道"
            let updated = try await store.updateRegion(
                RegistryV1.UpdateRegionRequest(region: renamed, updateMask: GoogleProtobuf.FieldMask(paths: ["name"])),
                caller: Fixtures.caller
            ).region!
            #expect(updated.fullName == "广东省深圳市南山区南头新街道")
            #expect(updated.version == 2)
            let village = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440305001002")).region!
            #expect(village.fullName == "广东省深圳市南山区南头新街道大新社区")

            _ = try await Fixtures.create(store, Fixtures.member("何十六", region: "440305001002", id: 71))
            var closing = village
            closing.active = false
            let inUse = await expectServiceError {
                try await store.updateRegion(
                    RegistryV1.UpdateRegionRequest(region: closing, updateMask: GoogleProtobuf.FieldMask(paths: ["active"])),
                    caller: Fixtures.caller)
            }
            #expect(inUse.map { if case .failedPrecondition(_, _, let code) = $0 { code } else { "" } } == "REGION_IN_USE")

            let empty = try await store.getRegion(RegistryV1.GetRegionRequest(code: "440304002000")).region!
            var gone = empty
            gone.active = false
            let deactivated = try await store.updateRegion(
                RegistryV1.UpdateRegionRequest(region: gone, updateMask: GoogleProtobuf.FieldMask(paths: ["active"])),
                caller: Fixtures.caller
            ).region!
            #expect(!deactivated.active)
            let blocked = await expectServiceError {
                try await Fixtures.create(store, Fixtures.member("吕十七", region: "440304002000", id: 73))
            }
            #expect(blocked.map { if case .failedPrecondition = $0 { true } else { false } } == true)
            let children = try await store.listChildRegions(RegistryV1.ListChildRegionsRequest(parentCode: "440304"))
            #expect(children.regions.isEmpty)
            let all = try await store.listChildRegions(
                RegistryV1.ListChildRegionsRequest(parentCode: "440304", includeInactive: true))
            #expect(all.regions.map(\.code) == ["440304002000"])
        }
    }

    @Test("region files: parents from the digits, errors name the line")
    func regionFile() throws {
        let nodes = try RegionTreeFile.parse(
            """
            code,name,parent_code,urban_rural_class
            # 广东省
            440000,广东省
            440300,深圳市
            440305001001\t南头城社区\t\t111
            """)
        #expect(nodes.map(\.code) == ["440000", "440300", "440305001001"])
        #expect(nodes.map(\.parentCode) == ["", "440000", "440305001000"])
        #expect(nodes[2].urbanRuralClass == "111")
        #expect(throws: ServiceError.self) { try RegionTreeFile.parse("440000,广东省\n99x,坏") }
        #expect(try ChangeFeedToken.decode(ChangeFeedToken.encode(123_456)) == 123_456)
        #expect(throws: ServiceError.self) { try ChangeFeedToken.decode("garbage") }
    }

    @Test("negative-list entries apply down the tree and list newest first", arguments: Engine.allCases)
    func listNegativeList(engine: Engine) async throws {
        try await withStore(engine) { store in
            try await Fixtures.importTree(store)
            for (index, region) in ["440000", "440305", "440304"].enumerated() {
                _ = try await store.addNegativeListEntry(
                    RegistryV1.AddNegativeListEntryRequest(
                        requestId: "n-\(index)",
                        entry: RegistryV1.NegativeListEntry(
                            subjectKind: .person, name: "对象\(index)", residentIdNumber: Fixtures.residentID(80 + index),
                            reason: .criminalConviction, basis: "判决书\(index)", regionCode: region)),
                    caller: Fixtures.caller)
            }
            let nanshan = try await store.listNegativeListEntries(
                RegistryV1.ListNegativeListEntriesRequest(regionCode: "440305001001"))
            #expect(Set(nanshan.entries.map(\.name)) == ["对象0", "对象1"])
            let everything = try await store.listNegativeListEntries(RegistryV1.ListNegativeListEntriesRequest(pageSize: 2))
            #expect(everything.entries.count == 2)
            let rest = try await store.listNegativeListEntries(
                RegistryV1.ListNegativeListEntriesRequest(pageSize: 2, pageToken: everything.nextPageToken))
            #expect(Set((everything.entries + rest.entries).map(\.name)) == ["对象0", "对象1", "对象2"])
            let byID = try await store.listNegativeListEntries(
                RegistryV1.ListNegativeListEntriesRequest(residentIdNumber: Fixtures.residentID(82)))
            #expect(byID.entries.map(\.name) == ["对象2"])
        }
    }
}

@Suite("Masking")
struct MaskingTests {
    @Test("personal data is masked as common.proto says")
    func masks() {
        let member = RegistryV1.Member(
            name: "张三", birthDate: CommonV1.Date(year: 1990, month: 1, day: 1), residentIdNumber: "44030519900101123X",
            mobile: "13812345678")
        let masked = Masking.masked(member)
        #expect(masked.residentIdNumber == "440305********123X")
        #expect(masked.mobile == "138****5678")
        #expect(masked.birthDate == nil)
        #expect(masked.personalDataMasked)
        #expect(masked.name == "张三")
    }
}

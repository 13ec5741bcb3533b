import Testing

@testable import Model

@Suite("RegionCode")
struct DomainRegionCodeTests {
    static func region(_ text: String) throws -> RegionCode {
        try RegionCode(validating: text)
    }

    @Test(
        "codes of every level parse, with their short and padded forms and parent",
        arguments: [
            ("110000", RegionLevel.province, "110000", "110000000000", nil),
            ("820000", .province, "820000", "820000000000", nil),
            ("110100", .city, "110100", "110100000000", "110000"),
            ("350100", .city, "350100", "350100000000", "350000"),
            ("110101", .county, "110101", "110101000000", "110100"),
            ("500101", .county, "500101", "500101000000", "500100"),
            ("419001", .county, "419001", "419001000000", "419000"),
            ("110101001000", .township, "110101001000", "110101001000", "110101"),
            ("441900003000", .township, "441900003000", "441900003000", "441900"),
            ("110101001001", .village, "110101001001", "110101001001", "110101001000"),
            ("110000000000", .province, "110000", "110000000000", nil),
            ("110101000000", .county, "110101", "110101000000", "110100"),
            ("429004123456", .village, "429004123456", "429004123456", "429004123000"),
        ] as [(String, RegionLevel, String, String, String?)])
    func valid(text: String, level: RegionLevel, code: String, padded12: String, parent: String?) throws {
        let region = try Self.region(text)
        #expect(region.level == level)
        #expect(region.code == code)
        #expect(region.description == code)
        #expect(region.padded12 == padded12)
        #expect(region.parent?.code == parent)
        #expect(try Self.region(padded12) == region)
        #expect(try Self.region(code) == region)
    }

    @Test(
        "ancestors run from the province down to the parent",
        arguments: [
            ("110000", [String]()),
            ("110100", ["110000"]),
            ("110101", ["110000", "110100"]),
            ("419001", ["410000", "419000"]),
            ("110101001000", ["110000", "110100", "110101"]),
            ("110101001001", ["110000", "110100", "110101", "110101001000"]),
            ("441900003000", ["440000", "441900"]),
        ])
    func ancestors(text: String, ancestors: [String]) throws {
        let region = try Self.region(text)
        #expect(region.ancestors.map(\.code) == ancestors)
        #expect(region.ancestors.last == region.parent)
        for ancestor in region.ancestors {
            #expect(ancestor.isAncestor(of: region))
            #expect(!region.isAncestor(of: ancestor))
            #expect(ancestor.level < region.level)
        }
    }

    @Test("isAncestor is strict and follows the digits")
    func isAncestor() throws {
        let village = try Self.region("110101001001")
        #expect(try Self.region("110000").isAncestor(of: village))
        #expect(try Self.region("110100").isAncestor(of: Self.region("110101001000")))
        #expect(try Self.region("110101001000").isAncestor(of: village))
        #expect(!village.isAncestor(of: village))
        #expect(try !Self.region("110101").isAncestor(of: Self.region("110101")))
        #expect(try !Self.region("120000").isAncestor(of: Self.region("110101")))
        #expect(try !Self.region("110102").isAncestor(of: Self.region("110101001000")))
        #expect(try !Self.region("110101").isAncestor(of: Self.region("110000")))
    }

    @Test("levels and codes order from the root down")
    func ordering() throws {
        #expect(RegionLevel.province < .city)
        #expect(RegionLevel.township < .village)
        #expect(RegionLevel.allCases.sorted() == [.province, .city, .county, .township, .village])
        let sorted = try ["110101001000", "110101", "120000", "110000", "110100"].map(Self.region).sorted()
        #expect(sorted.map(\.code) == ["110000", "110100", "110101", "110101001000", "120000"])
    }

    @Test(
        "invalid codes fail with the rule they break",
        arguments: [
            ("", DomainRuleError.invalidRegionCode(.wrongLength(actual: 0))),
            ("11010", .invalidRegionCode(.wrongLength(actual: 5))),
            ("1101011", .invalidRegionCode(.wrongLength(actual: 7))),
            ("110101001", .invalidRegionCode(.wrongLength(actual: 9))),
            ("1101010010011", .invalidRegionCode(.wrongLength(actual: 13))),
            ("11010A", .invalidCharacter(position: 6, character: "A", allowed: .digit)),
            ("11 101", .invalidCharacter(position: 3, character: " ", allowed: .digit)),
            ("11010100100x", .invalidCharacter(position: 12, character: "x", allowed: .digit)),
            ("４２0000", .invalidCharacter(position: 1, character: "４", allowed: .digit)),
            // Six UTF-8 bytes, two characters.
            ("一二", .invalidRegionCode(.wrongLength(actual: 2))),
            ("000000", .invalidRegionCode(.unknownProvince("00"))),
            ("100000", .invalidRegionCode(.unknownProvince("10"))),
            ("190000", .invalidRegionCode(.unknownProvince("19"))),
            ("830000", .invalidRegionCode(.unknownProvince("83"))),
            ("990101", .invalidRegionCode(.unknownProvince("99"))),
            ("110001", .invalidRegionCode(.countyWithoutCity("110001"))),
            ("110001001000", .invalidRegionCode(.countyWithoutCity("110001001000"))),
            ("110000001000", .invalidRegionCode(.townshipWithoutCountyOrCity("110000001000"))),
            ("110101000001", .invalidRegionCode(.villageWithoutTownship("110101000001"))),
            ("110100000123", .invalidRegionCode(.villageWithoutTownship("110100000123"))),
        ])
    func invalid(text: String, error: DomainRuleError) {
        #expect(throws: error) {
            try RegionCode(validating: text)
        }
    }

    @Test("every province-level code of GB/T 2260 is accepted, and nothing else")
    func provinces() throws {
        let provinces: Set = [
            11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
            50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
        ]
        for number in 0...99 {
            let text = (number < 10 ? "0" : "") + "\(number)0000"
            if provinces.contains(number) {
                #expect(try RegionCode(validating: text).level == .province)
            } else {
                #expect(throws: DomainRuleError.invalidRegionCode(.unknownProvince(String(text.prefix(2))))) {
                    try RegionCode(validating: text)
                }
            }
        }
    }
}

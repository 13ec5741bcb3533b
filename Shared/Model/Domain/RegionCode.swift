/// The depth of a region in the administrative hierarchy, shallowest first.
public enum RegionLevel: Int, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// 省级: a province, autonomous region, municipality or SAR (`xx0000`).
    case province = 1
    /// 地级: a prefecture-level city, prefecture or league (`xxyy00`).
    case city = 2
    /// 县级: a county, county-level city or district (`xxyyzz`).
    case county = 3
    /// 乡级: a township, town or subdistrict (12 digits ending `000`).
    case township = 4
    /// 村级: a village or residents' committee (12 digits).
    case village = 5

    /// Shallower levels order first: a province is less than a county.
    public static func < (lhs: RegionLevel, rhs: RegionLevel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    /// `province`, `city`, `county`, `township` or `village`.
    public var description: String {
        switch self {
        case .province:
            return "province"
        case .city:
            return "city"
        case .county:
            return "county"
        case .township:
            return "township"
        case .village:
            return "village"
        }
    }
}

/// An administrative division code, validated for structure: a 6-digit GB/T 2260 code
/// (province `xx0000`, city `xxyy00`, county `xxyyzz`) or a 12-digit statistical division code
/// (township: a 6-digit code, 3 digits and `000`; village: a township and 3 digits).
///
/// The code is not looked up in a list of existing regions, which changes every year; only the
/// province, from a list stable since 1997, must exist. A 12-digit code ending in `000000` is
/// the padded form of a 6-digit one and means the same region.
///
/// The hierarchy is read from the digits: the parent of a county `xxyyzz` is `xxyy00` and of a
/// city `xx0000`. For counties the province administers directly (`xx90zz`, such as 419001)
/// the parent is therefore `xx9000`, the statistical grouping 省直辖县级行政区划 rather than a
/// prefecture; the province is still an ancestor. A township's parent is its 6-digit prefix,
/// which is a city for prefectures without counties (441900 东莞市).
public struct RegionCode: Sendable, Hashable, Comparable, CustomStringConvertible {
    private let province: Int
    private let city: Int
    private let county: Int
    private let township: Int
    private let village: Int

    /// The province-level codes of GB/T 2260: 31 on the mainland, Taiwan, Hong Kong, Macao.
    private static let provinces: Set<Int> = [
        11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
        50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
    ]

    /// Validates `text` as a 6- or 12-digit region code.
    /// - Throws: `DomainRuleError.invalidRegionCode(.wrongLength)` unless there are 6 or 12
    ///   characters; `.invalidCharacter` for a non-digit; `.invalidRegionCode` with
    ///   `.unknownProvince` when the first two digits are no province (11–82),
    ///   `.countyWithoutCity` for `xx00zz`, `.townshipWithoutCountyOrCity` for a township
    ///   directly under a province, `.villageWithoutTownship` for a village part under township
    ///   part `000`.
    public init(validating text: String) throws(DomainRuleError) {
        // The common case, 6 or 12 ASCII digits, read from the UTF-8 bytes: the registry
        // parses several codes per write, and the character-by-character path below (kept for
        // the precise error) cost a create ~3 % of its CPU.
        let utf8 = text.utf8
        if utf8.count == 6 || utf8.count == 12,
            let parts = Self.parts(utf8)
        {
            try self.init(
                province: parts.province, city: parts.city, county: parts.county, township: parts.township,
                village: parts.village)
            return
        }
        let characters = Array(text)
        guard characters.count == 6 || characters.count == 12 else {
            throw .invalidRegionCode(.wrongLength(actual: characters.count))
        }
        var digits: [Int] = []
        digits.reserveCapacity(12)
        for (index, character) in characters.enumerated() {
            guard let digit = DomainASCII.digitValue(character) else {
                throw .invalidCharacter(position: index + 1, character: character, allowed: .digit)
            }
            digits.append(digit)
        }
        digits += repeatElement(0, count: 12 - digits.count)
        func number(_ range: Range<Int>) -> Int {
            digits[range].reduce(0) { $0 * 10 + $1 }
        }
        try self.init(
            province: number(0..<2), city: number(2..<4), county: number(4..<6),
            township: number(6..<9), village: number(9..<12))
    }

    /// The five parts of 6 or 12 ASCII digits (a 6-digit code's township and village are 0),
    /// or nil when a byte is not a digit.
    private static func parts(
        _ utf8: String.UTF8View
    ) -> (province: Int, city: Int, county: Int, township: Int, village: Int)? {
        var parts = (province: 0, city: 0, county: 0, township: 0, village: 0)
        for (index, byte) in utf8.enumerated() {
            guard byte >= 0x30 && byte <= 0x39 else {
                return nil
            }
            let digit = Int(byte &- 0x30)
            switch index {
            case 0, 1: parts.province = parts.province * 10 + digit
            case 2, 3: parts.city = parts.city * 10 + digit
            case 4, 5: parts.county = parts.county * 10 + digit
            case 6, 7, 8: parts.township = parts.township * 10 + digit
            default: parts.village = parts.village * 10 + digit
            }
        }
        return parts
    }

    private init(province: Int, city: Int, county: Int, township: Int, village: Int) throws(DomainRuleError) {
        self.province = province
        self.city = city
        self.county = county
        self.township = township
        self.village = village
        guard Self.provinces.contains(province) else {
            throw .invalidRegionCode(.unknownProvince(Self.padded(province, width: 2)))
        }
        if city == 0, county != 0 {
            throw .invalidRegionCode(.countyWithoutCity(self.code))
        }
        if township == 0, village != 0 {
            throw .invalidRegionCode(.villageWithoutTownship(self.padded12))
        }
        if city == 0, township != 0 {
            throw .invalidRegionCode(.townshipWithoutCountyOrCity(self.padded12))
        }
    }

    private init(validProvince province: Int, city: Int, county: Int, township: Int, village: Int) {
        self.province = province
        self.city = city
        self.county = county
        self.township = township
        self.village = village
    }

    /// How deep the region lies: the deepest part that is not all zeros.
    public var level: RegionLevel {
        if self.village != 0 {
            return .village
        }
        if self.township != 0 {
            return .township
        }
        if self.county != 0 {
            return .county
        }
        if self.city != 0 {
            return .city
        }
        return .province
    }

    /// The region one level up by the digits, or nil for a province. See the type's
    /// documentation for directly administered counties.
    public var parent: RegionCode? {
        switch self.level {
        case .province:
            return nil
        case .city:
            return RegionCode(validProvince: self.province, city: 0, county: 0, township: 0, village: 0)
        case .county:
            return RegionCode(
                validProvince: self.province, city: self.city, county: 0, township: 0, village: 0)
        case .township:
            return RegionCode(
                validProvince: self.province, city: self.city, county: self.county, township: 0, village: 0)
        case .village:
            return RegionCode(
                validProvince: self.province, city: self.city, county: self.county,
                township: self.township, village: 0)
        }
    }

    /// Every region above this one, the province first and the parent last; empty for a
    /// province.
    public var ancestors: [RegionCode] {
        var ancestors: [RegionCode] = []
        var next = self.parent
        while let region = next {
            ancestors.append(region)
            next = region.parent
        }
        return ancestors.reversed()
    }

    /// Whether `other` lies strictly within this region (a region is not its own ancestor).
    public func isAncestor(of other: RegionCode) -> Bool {
        other.ancestors.contains(self)
    }

    /// The canonical 12-digit form, e.g. `110101000000` for 110101.
    public var padded12: String {
        self.digits(12)
    }

    /// The short form: 6 digits for a province, city or county, all 12 for a township or
    /// village, which have no shorter official form.
    public var code: String {
        self.digits(self.level <= .county ? 6 : 12)
    }

    /// The first `count` (6 or 12) digits of the 12-digit form, written into one string.
    private func digits(_ count: Int) -> String {
        String(unsafeUninitializedCapacity: count) { buffer in
            func put(_ value: Int, at start: Int, width: Int) {
                var rest = value
                var offset = start + width - 1
                while offset >= start {
                    buffer[offset] = UInt8(truncatingIfNeeded: 0x30 + rest % 10)
                    rest /= 10
                    offset -= 1
                }
            }
            put(self.province, at: 0, width: 2)
            put(self.city, at: 2, width: 2)
            put(self.county, at: 4, width: 2)
            if count == 12 {
                put(self.township, at: 6, width: 3)
                put(self.village, at: 9, width: 3)
            }
            return count
        }
    }

    /// Orders regions depth-first by their digits, so a parent comes right before its children.
    public static func < (lhs: RegionCode, rhs: RegionCode) -> Bool {
        (lhs.province, lhs.city, lhs.county, lhs.township, lhs.village)
            < (rhs.province, rhs.city, rhs.county, rhs.township, rhs.village)
    }

    /// The short form, ``code``.
    public var description: String {
        self.code
    }

    private static func padded(_ value: Int, width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}

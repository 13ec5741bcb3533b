/// A unified social credit code (统一社会信用代码) of GB 32100-2015, validated.
///
/// Eighteen characters from the 31-character alphabet `0123456789ABCDEFGHJKLMNPQRTUWXY`
/// (no I, O, S, V, Z): the registration authority (1), the organisation type (2), the
/// administrative region code (3–8, digits), the GB 11714 organisation code (9–17, whose last
/// character is its own MOD 11 check) and the GB 32100 MOD 31 check character (18). Lowercase
/// letters are accepted and stored in upper case; nothing else is changed.
///
/// Both check characters are verified. The GB 11714 check at position 17 was kept after
/// testing it against over a hundred codes published online (authorities 1 and 9, types 1 and
/// 2, old and `MA…` organisation codes), all of which pass it. Authority and type are checked
/// against the alphabet only, since the table of authorities has grown since 2015. The region
/// code is checked to be six digits, not to be in GB/T 2260: central registrations use
/// `100000`; ``region`` parses it when it can.
public struct UnifiedSocialCreditCode: Sendable, Hashable, CustomStringConvertible {
    /// The 18 characters in upper case.
    public let value: String

    private static let alphabet: [Character] = Array("0123456789ABCDEFGHJKLMNPQRTUWXY")
    private static let weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
    private static let organizationWeights = [3, 7, 9, 10, 5, 8, 4, 2]

    /// Validates `text` as a unified social credit code.
    /// - Throws: `DomainRuleError.wrongLength` unless there are 18 characters;
    ///   `.invalidCharacter` for a non-digit in positions 3–8 or a character outside the GB 32100
    ///   alphabet elsewhere; `.checkCharacterMismatch` with `.gb11714Mod11` when the
    ///   organisation code's check at position 17 is wrong, with `.gb32100Mod31` when the last
    ///   character is.
    public init(validating text: String) throws(DomainRuleError) {
        let characters = Array(text)
        guard characters.count == 18 else {
            throw .wrongLength(expected: 18, actual: characters.count)
        }
        var canonical: [Character] = []
        canonical.reserveCapacity(18)
        for (index, character) in characters.enumerated() {
            let upper = DomainASCII.uppercased(character)
            if (2..<8).contains(index) {
                guard DomainASCII.digitValue(upper) != nil else {
                    throw .invalidCharacter(position: index + 1, character: character, allowed: .digit)
                }
            } else {
                guard Self.value(of: upper) != nil else {
                    throw .invalidCharacter(
                        position: index + 1, character: character, allowed: .creditCodeCharacter)
                }
            }
            canonical.append(upper)
        }

        if let expected = Self.organizationCheckCharacter(for: canonical[8..<16]), expected != canonical[16] {
            throw .checkCharacterMismatch(expected: expected, actual: canonical[16], algorithm: .gb11714Mod11)
        }
        if let expected = Self.checkCharacter(for: canonical[0..<17]), expected != canonical[17] {
            throw .checkCharacterMismatch(expected: expected, actual: canonical[17], algorithm: .gb32100Mod31)
        }
        self.value = String(canonical)
    }

    /// The GB 32100 MOD 31 check character for the first 17 characters of a code, or nil unless
    /// `first17` is 17 characters of the code's alphabet (either case). For building valid
    /// codes in tests and seed data; it does not check positions 3–8 or the organisation code.
    public static func checkCharacter(for first17: some StringProtocol) -> Character? {
        Self.checkCharacter(for: Array(first17)[...])
    }

    private static func checkCharacter(for first17: ArraySlice<Character>) -> Character? {
        guard first17.count == 17 else {
            return nil
        }
        var sum = 0
        for (character, weight) in zip(first17, Self.weights) {
            guard let value = Self.value(of: DomainASCII.uppercased(character)) else {
                return nil
            }
            sum += value * weight
        }
        return Self.alphabet[(31 - sum % 31) % 31]
    }

    /// The GB 11714 MOD 11 check character (`0`–`9` or `X`) for the first 8 characters of an
    /// organisation code, or nil unless `first8` is 8 ASCII digits or letters (either case;
    /// GB 11714 itself allows all 26 letters, valued A = 10 … Z = 35). For building valid
    /// codes: position 17 of a credit code is this character for positions 9–16.
    public static func organizationCheckCharacter(for first8: some StringProtocol) -> Character? {
        Self.organizationCheckCharacter(for: Array(first8)[...])
    }

    private static func organizationCheckCharacter(for first8: ArraySlice<Character>) -> Character? {
        guard first8.count == 8 else {
            return nil
        }
        var sum = 0
        for (character, weight) in zip(first8, Self.organizationWeights) {
            let upper = DomainASCII.uppercased(character)
            let value: Int
            if let digit = DomainASCII.digitValue(upper) {
                value = digit
            } else if let ascii = DomainASCII.scalarValue(upper), ascii >= 0x41, ascii <= 0x5A {
                value = Int(ascii) - 0x41 + 10
            } else {
                return nil
            }
            sum += value * weight
        }
        switch 11 - sum % 11 {
        case 10:
            return "X"
        case 11:
            return "0"
        case let check:
            return DomainASCII.digitCharacter(check)
        }
    }

    private static func value(of character: Character) -> Int? {
        Self.alphabet.firstIndex(of: character)
    }

    private func characters(_ range: Range<Int>) -> String {
        let utf8 = self.value.utf8
        let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
        let end = utf8.index(utf8.startIndex, offsetBy: range.upperBound)
        return String(self.value[start..<end])
    }

    /// Character 1, the registration authority (`1` establishment offices, `5` civil affairs,
    /// `9` market regulation, `Y` others …).
    public var registrationAuthority: Character {
        Character(self.characters(0..<1))
    }

    /// Character 2, the kind of organisation within its authority (`1` enterprise, `2`
    /// individual business … for authority `9`).
    public var organizationType: Character {
        Character(self.characters(1..<2))
    }

    /// Characters 3–8, the region code of the registering administration.
    public var regionCode: String {
        self.characters(2..<8)
    }

    /// ``regionCode`` as a GB/T 2260 county, city or province, or nil when it is not one
    /// (central registrations use `100000`).
    public var region: RegionCode? {
        try? RegionCode(validating: self.regionCode)
    }

    /// Characters 9–17, the GB 11714 organisation code with its check character.
    public var organizationCode: String {
        self.characters(8..<17)
    }

    /// Character 18, the GB 32100 check character.
    public var checkCharacter: Character {
        self.value.last ?? "0"
    }

    /// The 18 characters in upper case.
    public var description: String {
        self.value
    }
}

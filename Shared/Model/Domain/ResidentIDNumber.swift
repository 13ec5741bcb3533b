/// A citizen identity number (公民身份号码) of GB 11643-1999, validated.
///
/// Eighteen characters: a 6-digit administrative region code, the birth date as `YYYYMMDD`,
/// a 3-digit sequence whose last digit is odd for men and even for women, and a check
/// character by ISO 7064 MOD 11-2 (`0`–`9` or `X`). A lowercase `x` is accepted and stored as
/// `X`; nothing else is changed, so spaces or separators are an error.
///
/// The region code is checked to be six digits, not to be a code of GB/T 2260: residence
/// permits for residents of Hong Kong, Macao and Taiwan (810000, 820000, 830000) and the
/// 2023 permanent residence card for foreigners (leading 9) use the same format, and numbers
/// issued under since-abolished codes stay valid for life. ``region`` parses it when it can.
public struct ResidentIDNumber: Sendable, Hashable, CustomStringConvertible {
    /// The sex encoded by the parity of the 17th digit.
    public enum Gender: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
        /// An odd 17th digit.
        case male
        /// An even 17th digit.
        case female

        /// `male` or `female`.
        public var description: String { self.rawValue }
    }

    /// The 18 characters, with the check character in upper case.
    public let value: String
    /// The birth date from characters 7–14.
    public let birthDate: CalendarDate

    /// The earliest birth date accepted: nobody born before 1900 still needs a number.
    public static let earliestBirthDate = CalendarDate(uncheckedYear: 1900, month: 1, day: 1)

    private static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    /// The check character of each remainder of the weighted sum modulo 11.
    private static let checkAlphabet = "10X98765432"
    private static let checkCharacters: [Character] = Array(checkAlphabet)
    private static let checkBytes: [UInt8] = Array(checkAlphabet.utf8)

    /// Validates `text` as a resident ID number.
    /// - Parameters:
    ///   - text: the 18 characters, nothing around them.
    ///   - today: the latest birth date allowed; by default today in China Standard Time.
    /// - Throws: `DomainRuleError.wrongLength` unless there are 18 characters;
    ///   `.invalidCharacter` for a non-digit in positions 1–17 or anything but a digit or X
    ///   at 18; `.invalidDate` when characters 7–14 are no calendar date;
    ///   `.birthDateTooEarly` before 1900-01-01; `.birthDateInFuture` after `today`;
    ///   `.checkCharacterMismatch` (ISO 7064 MOD 11-2) when the last character is wrong.
    public init(validating text: String, today: CalendarDate? = nil) throws(DomainRuleError) {
        if let valid = Self.validCanonical(text, today: today) {
            self = valid
            return
        }
        let characters = Array(text)
        guard characters.count == 18 else {
            throw .wrongLength(expected: 18, actual: characters.count)
        }
        var digits: [Int] = []
        digits.reserveCapacity(17)
        for (index, character) in characters.prefix(17).enumerated() {
            guard let digit = DomainASCII.digitValue(character) else {
                throw .invalidCharacter(position: index + 1, character: character, allowed: .digit)
            }
            digits.append(digit)
        }
        let given = DomainASCII.uppercased(characters[17])
        guard DomainASCII.digitValue(given) != nil || given == "X" else {
            throw .invalidCharacter(position: 18, character: characters[17], allowed: .digitOrX)
        }

        func number(_ range: Range<Int>) -> Int {
            digits[range].reduce(0) { $0 * 10 + $1 }
        }
        let birthDate = try CalendarDate(year: number(6..<10), month: number(10..<12), day: number(12..<14))
        guard birthDate >= Self.earliestBirthDate else {
            throw .birthDateTooEarly(birthDate, earliest: Self.earliestBirthDate)
        }
        let today = today ?? CalendarDate.today()
        guard birthDate <= today else {
            throw .birthDateInFuture(birthDate, today: today)
        }

        let expected = Self.checkCharacter(digits: digits)
        guard given == expected else {
            throw .checkCharacterMismatch(expected: expected, actual: given, algorithm: .iso7064Mod11_2)
        }
        self.value = String(characters.prefix(17)) + String(given)
        self.birthDate = birthDate
    }

    private init(value: String, birthDate: CalendarDate) {
        self.value = value
        self.birthDate = birthDate
    }

    /// `text` as a number when it passes every rule as it stands (18 ASCII digits, or 17 and an
    /// upper-case X), read from its UTF-8 bytes; otherwise nil, and the character-by-character
    /// path decides, naming what is wrong. Every create validates a number: this path skips
    /// that path's grapheme breaking and arrays.
    private static func validCanonical(_ text: String, today: CalendarDate?) -> ResidentIDNumber? {
        let birthDate: CalendarDate?? = text.utf8.withContiguousStorageIfAvailable { bytes -> CalendarDate? in
            guard bytes.count == 18 else {
                return nil
            }
            var sum = 0
            var fields = (year: 0, month: 0, day: 0)
            for index in 0..<17 {
                let digit = Int(bytes[index]) &- 0x30
                guard digit >= 0 && digit <= 9 else {
                    return nil
                }
                sum += digit * Self.weights[index]
                switch index {
                case 6..<10: fields.year = fields.year * 10 + digit
                case 10..<12: fields.month = fields.month * 10 + digit
                case 12..<14: fields.day = fields.day * 10 + digit
                default: break
                }
            }
            guard bytes[17] == Self.checkBytes[sum % 11],
                let date = try? CalendarDate(year: fields.year, month: fields.month, day: fields.day),
                date >= Self.earliestBirthDate, date <= today ?? CalendarDate.today()
            else {
                return nil
            }
            return date
        }
        guard let date = birthDate ?? nil else {
            return nil
        }
        return ResidentIDNumber(value: text, birthDate: date)
    }

    /// The ISO 7064 MOD 11-2 check character for the first 17 characters of a number, or nil
    /// unless `first17` is exactly 17 ASCII digits. For building valid numbers in tests and
    /// seed data; it does not look at the date.
    public static func checkCharacter(for first17: some StringProtocol) -> Character? {
        var digits: [Int] = []
        for character in first17 {
            guard let digit = DomainASCII.digitValue(character), digits.count < 17 else {
                return nil
            }
            digits.append(digit)
        }
        guard digits.count == 17 else {
            return nil
        }
        return Self.checkCharacter(digits: digits)
    }

    private static func checkCharacter(digits: [Int]) -> Character {
        let sum = zip(digits, Self.weights).reduce(0) { $0 + $1.0 * $1.1 }
        return Self.checkCharacters[sum % 11]
    }

    /// Characters 1–6, the region where the number was first issued.
    public var regionCode: String {
        String(self.value.prefix(6))
    }

    /// ``regionCode`` as a GB/T 2260 county, city or province, or nil when it is not one
    /// (residence permits, foreigners' cards, malformed historical codes).
    public var region: RegionCode? {
        try? RegionCode(validating: self.regionCode)
    }

    /// The sex encoded by the parity of the 17th digit.
    public var gender: Gender {
        let seventeenth = self.value.utf8[self.value.utf8.index(self.value.utf8.startIndex, offsetBy: 16)]
        return (seventeenth - 0x30) % 2 == 1 ? .male : .female
    }

    /// The check character, `0`–`9` or `X`.
    public var checkCharacter: Character {
        self.value.last ?? "0"
    }

    /// The number with the birth date and the sequence hidden, keeping the first 6 and the last 4
    /// characters: `110105********002X`. For logs and screens that must not show personal data.
    public var masked: String {
        String(self.value.prefix(6)) + String(repeating: "*", count: 8) + String(self.value.suffix(4))
    }

    /// The 18 characters, canonical (upper-case X). Personal data: log ``masked`` instead.
    public var description: String {
        self.value
    }
}

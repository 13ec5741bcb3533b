/// Why a value broke one of the hand-written domain rules (resident ID numbers, unified social
/// credit codes, region codes, mobile numbers).
///
/// Every case names the rule that failed in words an API user understands, and
/// ``description`` is written to be sent as the message of a gRPC `INVALID_ARGUMENT` status,
/// after the name of the field. Positions count characters from 1, as a person reading the
/// value would.
public enum DomainRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The value has `actual` characters where the rule needs exactly `expected`.
    case wrongLength(expected: Int, actual: Int)
    /// The character at `position` (1-based) is not one the rule allows there.
    case invalidCharacter(position: Int, character: Character, allowed: CharacterClass)
    /// The year, month and day do not name a day of the Gregorian calendar (month 13,
    /// 29 February in a common year, year 0 …).
    case invalidDate(year: Int, month: Int, day: Int)
    /// A birth date lies before the earliest date the rule accepts (1900-01-01).
    case birthDateTooEarly(CalendarDate, earliest: CalendarDate)
    /// A birth date lies after today.
    case birthDateInFuture(CalendarDate, today: CalendarDate)
    /// The check character computed from the other characters differs from the one given.
    case checkCharacterMismatch(expected: Character, actual: Character, algorithm: CheckAlgorithm)
    /// The value is not a region code of GB/T 2260 or of the statistical division codes.
    case invalidRegionCode(RegionProblem)
    /// A phone number carries an international prefix other than mainland China's (+86).
    case unsupportedCountryCode
    /// An 11-digit number does not begin like a mainland mobile number (13 to 19).
    case invalidMobilePrefix(String)

    /// The characters a position allows, for the message of
    /// ``invalidCharacter(position:character:allowed:)``.
    public enum CharacterClass: Hashable, Sendable, CustomStringConvertible {
        /// `0`–`9`.
        case digit
        /// `0`–`9` or `X` (a lowercase `x` is accepted too).
        case digitOrX
        /// The 31 characters of GB 32100: digits and the capital letters except I, O, S, V, Z.
        case creditCodeCharacter
        /// A digit, or a space or hyphen used as a separator.
        case phoneCharacter

        /// The class in words, e.g. "a digit or X".
        public var description: String {
            switch self {
            case .digit:
                return "a digit"
            case .digitOrX:
                return "a digit or X"
            case .creditCodeCharacter:
                return "a digit or one of the letters ABCDEFGHJKLMNPQRTUWXY"
            case .phoneCharacter:
                return "a digit, space or hyphen"
            }
        }
    }

    /// The check-character algorithm that found a mismatch.
    public enum CheckAlgorithm: Hashable, Sendable, CustomStringConvertible {
        /// ISO 7064 MOD 11-2, the last character of a resident ID number (GB 11643).
        case iso7064Mod11_2
        /// The MOD 31 check of GB 32100, the last character of a unified social credit code.
        case gb32100Mod31
        /// The MOD 11 check of GB 11714, the last character of the organisation code held in
        /// positions 9–17 of a unified social credit code.
        case gb11714Mod11

        /// The algorithm's usual name, e.g. "ISO 7064 MOD 11-2".
        public var description: String {
            switch self {
            case .iso7064Mod11_2:
                return "ISO 7064 MOD 11-2"
            case .gb32100Mod31:
                return "GB 32100 MOD 31"
            case .gb11714Mod11:
                return "GB 11714 MOD 11"
            }
        }
    }

    /// Why a region code is not one of GB/T 2260 or of the statistical division codes.
    public enum RegionProblem: Hashable, Sendable, CustomStringConvertible {
        /// A region code has 6 or 12 digits; this one has `actual` characters.
        case wrongLength(actual: Int)
        /// The first two digits are not one of the 34 province-level codes (11 to 82).
        case unknownProvince(String)
        /// A county part other than `00` under a city part `00` (`xx00zz`): no such code exists.
        case countyWithoutCity(String)
        /// A township part under a bare province (`xx0000ttt…`): townships lie in a county or city.
        case townshipWithoutCountyOrCity(String)
        /// A village part other than `000` under a township part `000`.
        case villageWithoutTownship(String)

        /// The problem in words, e.g. "province code 99 is not one of GB/T 2260".
        public var description: String {
            switch self {
            case .wrongLength(let actual):
                return "a region code has 6 or 12 digits, got \(actual) characters"
            case .unknownProvince(let province):
                return "province code \(province) is not one of GB/T 2260"
            case .countyWithoutCity(let code):
                return "\(code) has a county part but its city part is 00"
            case .townshipWithoutCountyOrCity(let code):
                return "\(code) has a township part but no city or county part"
            case .villageWithoutTownship(let code):
                return "\(code) has a village part but its township part is 000"
            }
        }
    }

    /// The failed rule in English, suitable as a gRPC `INVALID_ARGUMENT` message, e.g.
    /// "check character is 5, expected X (ISO 7064 MOD 11-2)".
    public var description: String {
        switch self {
        case .wrongLength(let expected, let actual):
            return "expected \(expected) characters, got \(actual)"
        case .invalidCharacter(let position, let character, let allowed):
            return "character \(String(reflecting: String(character))) at position \(position) "
                + "is not allowed, expected \(allowed)"
        case .invalidDate(let year, let month, let day):
            return "\(CalendarDate.format(year: year, month: month, day: day)) is not a calendar date"
        case .birthDateTooEarly(let date, let earliest):
            return "birth date \(date) is before \(earliest)"
        case .birthDateInFuture(let date, let today):
            return "birth date \(date) is after today (\(today))"
        case .checkCharacterMismatch(let expected, let actual, let algorithm):
            let subject =
                algorithm == .gb11714Mod11
                ? "organisation code check character (position 17)" : "check character"
            return "\(subject) is \(actual), expected \(expected) (\(algorithm))"
        case .invalidRegionCode(let problem):
            return "invalid region code: \(problem)"
        case .unsupportedCountryCode:
            return "only mainland China mobile numbers (+86) are accepted"
        case .invalidMobilePrefix(let prefix):
            return "mobile numbers begin with 13 to 19, not \(prefix)"
        }
    }
}

import Testing

@testable import Model

@Suite("DomainRuleError")
struct DomainRuleErrorTests {
    @Test(
        "descriptions read as INVALID_ARGUMENT messages",
        arguments: [
            (DomainRuleError.wrongLength(expected: 18, actual: 17), "expected 18 characters, got 17"),
            (
                .invalidCharacter(position: 7, character: "A", allowed: .digit),
                #"character "A" at position 7 is not allowed, expected a digit"#
            ),
            (
                .invalidCharacter(position: 18, character: "Y", allowed: .digitOrX),
                #"character "Y" at position 18 is not allowed, expected a digit or X"#
            ),
            (
                .invalidCharacter(position: 3, character: "\t", allowed: .phoneCharacter),
                #"character "\t" at position 3 is not allowed, expected a digit, space or hyphen"#
            ),
            (
                .invalidCharacter(position: 14, character: "I", allowed: .creditCodeCharacter),
                #"character "I" at position 14 is not allowed, expected a digit or one of the letters ABCDEFGHJKLMNPQRTUWXY"#
            ),
            (.invalidDate(year: 1999, month: 2, day: 29), "1999-02-29 is not a calendar date"),
            (.invalidDate(year: 1990, month: 13, day: 1), "1990-13-01 is not a calendar date"),
            (
                .birthDateTooEarly(
                    CalendarDate(uncheckedYear: 1899, month: 12, day: 31),
                    earliest: CalendarDate(uncheckedYear: 1900, month: 1, day: 1)),
                "birth date 1899-12-31 is before 1900-01-01"
            ),
            (
                .birthDateInFuture(
                    CalendarDate(uncheckedYear: 2025, month: 6, day: 2),
                    today: CalendarDate(uncheckedYear: 2025, month: 6, day: 1)),
                "birth date 2025-06-02 is after today (2025-06-01)"
            ),
            (
                .checkCharacterMismatch(expected: "X", actual: "5", algorithm: .iso7064Mod11_2),
                "check character is 5, expected X (ISO 7064 MOD 11-2)"
            ),
            (
                .checkCharacterMismatch(expected: "L", actual: "N", algorithm: .gb32100Mod31),
                "check character is N, expected L (GB 32100 MOD 31)"
            ),
            (
                .checkCharacterMismatch(expected: "4", actual: "5", algorithm: .gb11714Mod11),
                "organisation code check character (position 17) is 5, expected 4 (GB 11714 MOD 11)"
            ),
            (
                .invalidRegionCode(.wrongLength(actual: 7)),
                "invalid region code: a region code has 6 or 12 digits, got 7 characters"
            ),
            (
                .invalidRegionCode(.unknownProvince("99")),
                "invalid region code: province code 99 is not one of GB/T 2260"
            ),
            (
                .invalidRegionCode(.countyWithoutCity("110001")),
                "invalid region code: 110001 has a county part but its city part is 00"
            ),
            (
                .invalidRegionCode(.townshipWithoutCountyOrCity("110000001000")),
                "invalid region code: 110000001000 has a township part but no city or county part"
            ),
            (
                .invalidRegionCode(.villageWithoutTownship("110101000001")),
                "invalid region code: 110101000001 has a village part but its township part is 000"
            ),
            (.unsupportedCountryCode, "only mainland China mobile numbers (+86) are accepted"),
            (.invalidMobilePrefix("12"), "mobile numbers begin with 13 to 19, not 12"),
        ])
    func descriptions(error: DomainRuleError, message: String) {
        #expect(error.description == message)
    }
}

import Testing

@testable import Model

@Suite("ResidentIDNumber")
struct DomainResidentIDNumberTests {
    /// A fixed "today" so that the tests do not change with the calendar.
    static let today = CalendarDate(uncheckedYear: 2025, month: 6, day: 1)

    /// The first 17 characters followed by their check character.
    static func withCheck(_ first17: String) -> String {
        first17 + String(ResidentIDNumber.checkCharacter(for: first17) ?? "?")
    }

    // Check characters computed independently of this implementation; the first is the
    // example printed in GB 11643-1999.
    @Test(
        "valid numbers are accepted and decoded",
        arguments: [
            (
                "11010519491231002X", "110105", CalendarDate(uncheckedYear: 1949, month: 12, day: 31),
                ResidentIDNumber.Gender.female
            ),
            ("110101199003070038", "110101", CalendarDate(uncheckedYear: 1990, month: 3, day: 7), .male),
            ("110101200002290042", "110101", CalendarDate(uncheckedYear: 2000, month: 2, day: 29), .female),
            ("350102198510121270", "350102", CalendarDate(uncheckedYear: 1985, month: 10, day: 12), .male),
            ("650101200412319990", "650101", CalendarDate(uncheckedYear: 2004, month: 12, day: 31), .male),
            ("320583199911111013", "320583", CalendarDate(uncheckedYear: 1999, month: 11, day: 11), .male),
            ("419001201001010019", "419001", CalendarDate(uncheckedYear: 2010, month: 1, day: 1), .male),
        ])
    func valid(text: String, region: String, birthDate: CalendarDate, gender: ResidentIDNumber.Gender) throws
    {
        let number = try ResidentIDNumber(validating: text, today: Self.today)
        #expect(number.value == text)
        #expect(number.description == text)
        #expect(number.regionCode == region)
        #expect(number.region?.code == region)
        #expect(number.birthDate == birthDate)
        #expect(number.gender == gender)
        #expect(number.checkCharacter == text.last)
        #expect(ResidentIDNumber.checkCharacter(for: text.prefix(17)) == text.last)
    }

    @Test("a lowercase x is accepted and stored as X")
    func lowercaseX() throws {
        let number = try ResidentIDNumber(validating: "11010519491231002x", today: Self.today)
        #expect(number.value == "11010519491231002X")
        #expect(number == (try ResidentIDNumber(validating: "11010519491231002X", today: Self.today)))
        #expect(number.checkCharacter == "X")
    }

    @Test("a number in canonical form and the same number spelled otherwise decode alike")
    func canonicalAndOtherSpellings() throws {
        // Canonical numbers take a byte path; each altered spelling must take the character
        // path and either decode to the same number (lowercase x) or fail as it always did.
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let year = Int.random(in: 1900...2024, using: &generator)
            let month = Int.random(in: 1...12, using: &generator)
            let day = Int.random(in: 1...28, using: &generator)
            let sequence = Int.random(in: 0...999, using: &generator)
            func padded(_ value: Int, _ width: Int) -> String {
                String(repeating: "0", count: width - String(value).count) + String(value)
            }
            let text = Self.withCheck("420502" + padded(year, 4) + padded(month, 2) + padded(day, 2) + padded(sequence, 3))
            let number = try ResidentIDNumber(validating: text, today: Self.today)
            #expect(number.value == text)
            #expect(number.birthDate == CalendarDate(uncheckedYear: year, month: month, day: day))
            if text.hasSuffix("X") {
                #expect(try ResidentIDNumber(validating: text.lowercased(), today: Self.today) == number)
            }
            // A full-width digit in place of the first: the same 18 characters, more bytes.
            #expect(throws: DomainRuleError.invalidCharacter(position: 1, character: "４", allowed: .digit)) {
                try ResidentIDNumber(validating: "４" + text.dropFirst(), today: Self.today)
            }
            // A wrong check character is refused on both paths.
            let wrong = text.last == "0" ? "1" : "0"
            #expect(throws: DomainRuleError.self) {
                try ResidentIDNumber(validating: text.dropLast() + wrong, today: Self.today)
            }
        }
    }

    @Test("the masked form keeps the first 6 and the last 4 characters")
    func masked() throws {
        let number = try ResidentIDNumber(validating: "11010519491231002X", today: Self.today)
        #expect(number.masked == "110105********002X")
    }

    @Test("birth dates are accepted from 1900-01-01 up to and including today")
    func dateBounds() throws {
        let first = try ResidentIDNumber(validating: Self.withCheck("11010119000101001"), today: Self.today)
        #expect(first.birthDate == ResidentIDNumber.earliestBirthDate)
        let newborn = try ResidentIDNumber(validating: Self.withCheck("11010120250601002"), today: Self.today)
        #expect(newborn.birthDate == Self.today)
        #expect(newborn.gender == .female)
    }

    @Test("without a today the system clock in Beijing is used")
    func defaultToday() throws {
        let number = try ResidentIDNumber(validating: "110101199003070038")
        #expect(number.birthDate.year == 1990)
        let error = #expect(throws: DomainRuleError.self) {
            try ResidentIDNumber(validating: Self.withCheck("11010129990101001"))
        }
        #expect(
            error
                == .birthDateInFuture(
                    CalendarDate(uncheckedYear: 2999, month: 1, day: 1), today: CalendarDate.today()))
    }

    @Test("region codes outside GB/T 2260 are allowed, as on residence permits")
    func residencePermitRegion() throws {
        let permit = try ResidentIDNumber(validating: Self.withCheck("83000019900101002"), today: Self.today)
        #expect(permit.regionCode == "830000")
        #expect(permit.region == nil)
    }

    @Test(
        "invalid numbers fail with the rule they break",
        arguments: [
            ("", DomainRuleError.wrongLength(expected: 18, actual: 0)),
            ("11010519491231002", .wrongLength(expected: 18, actual: 17)),
            ("11010519491231002X1", .wrongLength(expected: 18, actual: 19)),
            ("110105 19491231002X", .wrongLength(expected: 18, actual: 19)),
            ("11010A19491231002X", .invalidCharacter(position: 6, character: "A", allowed: .digit)),
            ("X10105194912310020", .invalidCharacter(position: 1, character: "X", allowed: .digit)),
            ("110105194912310 2X", .invalidCharacter(position: 16, character: " ", allowed: .digit)),
            ("１10105194912310020", .invalidCharacter(position: 1, character: "１", allowed: .digit)),
            ("11010519491231002Y", .invalidCharacter(position: 18, character: "Y", allowed: .digitOrX)),
            ("11010519491231002-", .invalidCharacter(position: 18, character: "-", allowed: .digitOrX)),
            (
                "110101199003070039",
                .checkCharacterMismatch(expected: "8", actual: "9", algorithm: .iso7064Mod11_2)
            ),
            (
                "110105194912310025",
                .checkCharacterMismatch(expected: "X", actual: "5", algorithm: .iso7064Mod11_2)
            ),
            (
                "110101199003070030",
                .checkCharacterMismatch(expected: "8", actual: "0", algorithm: .iso7064Mod11_2)
            ),
            (
                "11010119900307003X",
                .checkCharacterMismatch(expected: "8", actual: "X", algorithm: .iso7064Mod11_2)
            ),
            (withCheck("11010119990229001"), .invalidDate(year: 1999, month: 2, day: 29)),
            (withCheck("11010119000229001"), .invalidDate(year: 1900, month: 2, day: 29)),
            (withCheck("11010119901301001"), .invalidDate(year: 1990, month: 13, day: 1)),
            (withCheck("11010119900001001"), .invalidDate(year: 1990, month: 0, day: 1)),
            (withCheck("11010119900100001"), .invalidDate(year: 1990, month: 1, day: 0)),
            (withCheck("11010119900431001"), .invalidDate(year: 1990, month: 4, day: 31)),
            (withCheck("11010100000101001"), .invalidDate(year: 0, month: 1, day: 1)),
            (
                "440524188001010014",  // the second example of GB 11643-1999: born 1880
                .birthDateTooEarly(
                    CalendarDate(uncheckedYear: 1880, month: 1, day: 1),
                    earliest: ResidentIDNumber.earliestBirthDate)
            ),
            (
                withCheck("11010118991231001"),
                .birthDateTooEarly(
                    CalendarDate(uncheckedYear: 1899, month: 12, day: 31),
                    earliest: ResidentIDNumber.earliestBirthDate)
            ),
            (
                withCheck("11010120250602001"),
                .birthDateInFuture(CalendarDate(uncheckedYear: 2025, month: 6, day: 2), today: today)
            ),
            (
                withCheck("11010120300101001"),
                .birthDateInFuture(CalendarDate(uncheckedYear: 2030, month: 1, day: 1), today: today)
            ),
        ])
    func invalid(text: String, error: DomainRuleError) {
        #expect(throws: error) {
            try ResidentIDNumber(validating: text, today: Self.today)
        }
    }

    @Test(
        "every single-character substitution fails",
        arguments: ["11010519491231002X", "110101200002290042", "650101200412319990"])
    func everySubstitutionFails(valid: String) throws {
        let original = Array(valid)
        for position in 0..<18 {
            for replacement in "0123456789X" where replacement != original[position] {
                var mutated = original
                mutated[position] = replacement
                let text = String(mutated)
                let error = #expect(throws: DomainRuleError.self, "\(text)") {
                    try ResidentIDNumber(validating: text, today: Self.today)
                }
                if position < 17, replacement == "X" {
                    #expect(
                        error == .invalidCharacter(position: position + 1, character: "X", allowed: .digit))
                } else if case .checkCharacterMismatch = error {
                    let expected = try #require(ResidentIDNumber.checkCharacter(for: text.prefix(17)))
                    #expect(
                        error
                            == .checkCharacterMismatch(
                                expected: expected, actual: mutated[17], algorithm: .iso7064Mod11_2))
                } else {
                    // Only the date digits can break a rule before the check character.
                    switch error {
                    case .invalidDate?, .birthDateTooEarly?, .birthDateInFuture?:
                        #expect((6..<14).contains(position), "\(text)")
                    default:
                        Issue.record("\(text): unexpected \(String(describing: error))")
                    }
                }
            }
        }
    }

    @Test("the check character helper refuses anything but 17 digits")
    func checkCharacterHelper() {
        #expect(ResidentIDNumber.checkCharacter(for: "11010519491231002") == "X")
        #expect(ResidentIDNumber.checkCharacter(for: "1101051949123100") == nil)
        #expect(ResidentIDNumber.checkCharacter(for: "110105194912310023") == nil)
        #expect(ResidentIDNumber.checkCharacter(for: "1101051949123100A") == nil)
        #expect(ResidentIDNumber.checkCharacter(for: "") == nil)
    }

    @Test("generated numbers validate for every region, date and sequence tried")
    func generatedNumbersValidate() throws {
        for region in ["110101", "440305", "530102", "810000"] {
            for date in ["19000101", "19561231", "20000229", "20250601"] {
                for sequence in ["000", "001", "128", "999"] {
                    let text = Self.withCheck(region + date + sequence)
                    let number = try ResidentIDNumber(validating: text, today: Self.today)
                    #expect(number.gender == (Int(String(sequence.last!))! % 2 == 1 ? .male : .female))
                }
            }
        }
    }
}

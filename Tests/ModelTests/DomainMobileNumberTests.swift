import Testing

@testable import Model

@Suite("MobileNumber")
struct DomainMobileNumberTests {
    @Test(
        "numbers as people write them are normalised",
        arguments: [
            ("13812345678", "13812345678"),
            ("138 1234 5678", "13812345678"),
            ("138-1234-5678", "13812345678"),
            (" 138 1234 5678 ", "13812345678"),
            ("+8613812345678", "13812345678"),
            ("+86 138 1234 5678", "13812345678"),
            ("+86-138-1234-5678", "13812345678"),
            ("8613812345678", "13812345678"),
            ("86 138 1234 5678", "13812345678"),
            ("008613812345678", "13812345678"),
            ("0086 138 1234 5678", "13812345678"),
            ("14512345678", "14512345678"),
            ("16612345678", "16612345678"),
            ("19912345678", "19912345678"),
            ("18612345678", "18612345678"),
        ])
    func valid(text: String, normalized: String) throws {
        let number = try MobileNumber(validating: text)
        #expect(number.normalized == normalized)
        #expect(number.description == normalized)
        #expect(number.e164 == "+86" + normalized)
    }

    @Test("the masked form hides the middle four digits")
    func masked() throws {
        #expect(try MobileNumber(validating: "+86 138 1234 5678").masked == "138****5678")
    }

    @Test("the same number written differently is equal")
    func equality() throws {
        #expect(try MobileNumber(validating: "+86 138-1234-5678") == MobileNumber(validating: "13812345678"))
    }

    @Test(
        "invalid numbers fail with the rule they break",
        arguments: [
            ("", DomainRuleError.wrongLength(expected: 11, actual: 0)),
            ("   ", .wrongLength(expected: 11, actual: 0)),
            ("1381234567", .wrongLength(expected: 11, actual: 10)),
            ("138123456789", .wrongLength(expected: 11, actual: 12)),
            ("+86 1381234567", .wrongLength(expected: 11, actual: 10)),
            ("0086138123456789", .wrongLength(expected: 11, actual: 12)),
            ("861381234567", .wrongLength(expected: 11, actual: 12)),
            ("12812345678", .invalidMobilePrefix("12")),
            ("10012345678", .invalidMobilePrefix("10")),
            ("23812345678", .invalidMobilePrefix("23")),
            ("02812345678", .invalidMobilePrefix("02")),
            ("+86 12812345678", .invalidMobilePrefix("12")),
            ("+1 415 555 0100", .unsupportedCountryCode),
            ("+852 9123 4567", .unsupportedCountryCode),
            ("0044 7700 900123", .unsupportedCountryCode),
            ("138.1234.5678", .invalidCharacter(position: 4, character: ".", allowed: .phoneCharacter)),
            ("138 1234 567a", .invalidCharacter(position: 13, character: "a", allowed: .phoneCharacter)),
            ("(138)12345678", .invalidCharacter(position: 1, character: "(", allowed: .phoneCharacter)),
            ("１3812345678", .invalidCharacter(position: 1, character: "１", allowed: .phoneCharacter)),
            ("138\t1234\t5678", .invalidCharacter(position: 4, character: "\t", allowed: .phoneCharacter)),
            ("138+12345678", .invalidCharacter(position: 4, character: "+", allowed: .phoneCharacter)),
        ])
    func invalid(text: String, error: DomainRuleError) {
        #expect(throws: error) {
            try MobileNumber(validating: text)
        }
    }
}

import Testing

@testable import Model

@Suite("UnifiedSocialCreditCode")
struct DomainUnifiedSocialCreditCodeTests {
    /// Codes published by registries and found online, of authorities 1 and 9, types 1 and 2,
    /// with old and new-style (`MA…`) organisation codes and X at positions 17 and 18.
    static let publishedCodes = [
        "91350100M000100Y43", "91110000600037341L", "121200004013590816", "91110000710926094P",
        "91120224064012553U", "911522010783710635", "91152201078371135X", "9115220107837757XE",
        "9115220107837941X1", "91310000631696382C", "91310115MA1K3BTP2B", "9131012056010553X5",
        "91320214745555318W", "913304007429141869", "91340600MA2PBM9HXD", "91340603MA2UJXXCXF",
        "91371082775260043P", "91420684MA4927PJ7B", "91440300568520498A", "9144030071526726XG",
        "91442000696462712R", "91620105L015101280", "91620105MA73NBBLXE", "92340602MA2PBMEM24",
        "92340603MA2PBN17X5", "92340621MA2PBKRXXG", "92340621MA2UK3PJXE",
    ]

    @Test("published codes are accepted", arguments: publishedCodes)
    func published(text: String) throws {
        let code = try UnifiedSocialCreditCode(validating: text)
        #expect(code.value == text)
        #expect(code.description == text)
        #expect(code.checkCharacter == text.last)
        #expect(UnifiedSocialCreditCode.checkCharacter(for: text.prefix(17)) == text.last)
        let organization = Array(text)[8..<17]
        #expect(
            UnifiedSocialCreditCode.organizationCheckCharacter(for: String(organization.prefix(8)))
                == organization.last)
    }

    @Test("the parts of a code are exposed")
    func parts() throws {
        let code = try UnifiedSocialCreditCode(validating: "91350100M000100Y43")
        #expect(code.registrationAuthority == "9")
        #expect(code.organizationType == "1")
        #expect(code.regionCode == "350100")
        #expect(code.region?.level == .city)
        #expect(code.organizationCode == "M000100Y4")
        #expect(code.checkCharacter == "3")
    }

    @Test("a central registration has region 100000, which is no GB/T 2260 region")
    func centralRegistration() throws {
        // Built with the algorithm; it is also the code of the State Council's General Office.
        let code = try UnifiedSocialCreditCode(validating: "11100000000013127D")
        #expect(code.regionCode == "100000")
        #expect(code.region == nil)
        #expect(code.registrationAuthority == "1")
    }

    @Test("lowercase letters are accepted and stored in upper case")
    func lowercase() throws {
        let code = try UnifiedSocialCreditCode(validating: "91310115ma1k3btp2b")
        #expect(code.value == "91310115MA1K3BTP2B")
        #expect(code == (try UnifiedSocialCreditCode(validating: "91310115MA1K3BTP2B")))
    }

    @Test(
        "invalid codes fail with the rule they break",
        arguments: [
            ("", DomainRuleError.wrongLength(expected: 18, actual: 0)),
            ("12345", .wrongLength(expected: 18, actual: 5)),
            ("91350100M000100Y4", .wrongLength(expected: 18, actual: 17)),
            ("91350100M000100Y433", .wrongLength(expected: 18, actual: 19)),
            ("91 110000 600037341L", .wrongLength(expected: 18, actual: 20)),
            (
                "9111000060003IOZSV",
                .invalidCharacter(position: 14, character: "I", allowed: .creditCodeCharacter)
            ),
            (
                "91350100M0001O0Y43",
                .invalidCharacter(position: 14, character: "O", allowed: .creditCodeCharacter)
            ),
            (
                "91350100M000100Y4S",
                .invalidCharacter(position: 18, character: "S", allowed: .creditCodeCharacter)
            ),
            (
                "Z1350100M000100Y43",
                .invalidCharacter(position: 1, character: "Z", allowed: .creditCodeCharacter)
            ),
            (
                "9V350100M000100Y43",
                .invalidCharacter(position: 2, character: "V", allowed: .creditCodeCharacter)
            ),
            (
                "91350100m000i00Y43",
                .invalidCharacter(position: 13, character: "i", allowed: .creditCodeCharacter)
            ),
            (
                "91350100M000100Y4-",
                .invalidCharacter(position: 18, character: "-", allowed: .creditCodeCharacter)
            ),
            ("9111A000600037341L", .invalidCharacter(position: 5, character: "A", allowed: .digit)),
            ("91MA0100M000100Y43", .invalidCharacter(position: 3, character: "M", allowed: .digit)),
            (
                "91110000600037341N",
                .checkCharacterMismatch(expected: "L", actual: "N", algorithm: .gb32100Mod31)
            ),
            (
                "91350100M000100Y40",
                .checkCharacterMismatch(expected: "3", actual: "0", algorithm: .gb32100Mod31)
            ),
            (
                "91350100M000100Y53",
                .checkCharacterMismatch(expected: "4", actual: "5", algorithm: .gb11714Mod11)
            ),
            (
                "91350100M000100YX3",
                .checkCharacterMismatch(expected: "4", actual: "X", algorithm: .gb11714Mod11)
            ),
            (
                "91350100M000100YA3",
                .checkCharacterMismatch(expected: "4", actual: "A", algorithm: .gb11714Mod11)
            ),
        ])
    func invalid(text: String, error: DomainRuleError) {
        #expect(throws: error) {
            try UnifiedSocialCreditCode(validating: text)
        }
    }

    @Test(
        "every single-character substitution fails",
        arguments: ["91350100M000100Y43", "9115220107837941X1", "91620105MA73NBBLXE", "121200004013590816"])
    func everySubstitutionFails(valid: String) throws {
        let original = Array(valid)
        for position in 0..<18 {
            for replacement in "0123456789ABCDEFGHJKLMNPQRTUWXYIOSVZ" where replacement != original[position]
            {
                var mutated = original
                mutated[position] = replacement
                let text = String(mutated)
                let error = #expect(throws: DomainRuleError.self, "\(text)") {
                    try UnifiedSocialCreditCode(validating: text)
                }
                let expectedError: DomainRuleError
                if "IOSVZ".contains(replacement) {
                    let allowed: DomainRuleError.CharacterClass =
                        (2..<8).contains(position) ? .digit : .creditCodeCharacter
                    expectedError = .invalidCharacter(
                        position: position + 1, character: replacement, allowed: allowed)
                } else if (2..<8).contains(position), !replacement.isNumber {
                    expectedError = .invalidCharacter(
                        position: position + 1, character: replacement, allowed: .digit)
                } else {
                    let organization = try #require(
                        UnifiedSocialCreditCode.organizationCheckCharacter(for: String(mutated[8..<16])))
                    if organization != mutated[16] {
                        expectedError = .checkCharacterMismatch(
                            expected: organization, actual: mutated[16], algorithm: .gb11714Mod11)
                    } else {
                        let check = try #require(UnifiedSocialCreditCode.checkCharacter(for: text.prefix(17)))
                        expectedError = .checkCharacterMismatch(
                            expected: check, actual: mutated[17], algorithm: .gb32100Mod31)
                    }
                }
                #expect(error == expectedError, "\(text)")
            }
        }
    }

    @Test("codes built with the helpers validate")
    func generated() throws {
        for prefix in ["11100000", "51440300", "92340621", "Y1350100", "N2440300"] {
            for body in ["00001312", "MA2PBQ7X", "L0151012", "000000BB"] {
                let organizationCheck = try #require(
                    UnifiedSocialCreditCode.organizationCheckCharacter(for: body))
                let first17 = prefix + body + String(organizationCheck)
                let check = try #require(UnifiedSocialCreditCode.checkCharacter(for: first17))
                let code = try UnifiedSocialCreditCode(validating: first17 + String(check))
                #expect(code.organizationCode == body + String(organizationCheck))
            }
        }
        #expect(try UnifiedSocialCreditCode(validating: "Y1350100MA2PBQ7X9T").registrationAuthority == "Y")
    }

    @Test("the helpers refuse input of the wrong length or alphabet")
    func helpers() {
        #expect(UnifiedSocialCreditCode.checkCharacter(for: "91110000600037341") == "L")
        #expect(UnifiedSocialCreditCode.checkCharacter(for: "91110000600037341".lowercased()) == "L")
        #expect(UnifiedSocialCreditCode.checkCharacter(for: "9111000060003734") == nil)
        #expect(UnifiedSocialCreditCode.checkCharacter(for: "911100006000373411") == nil)
        #expect(UnifiedSocialCreditCode.checkCharacter(for: "9111000060003734I") == nil)
        #expect(UnifiedSocialCreditCode.organizationCheckCharacter(for: "60003734") == "1")
        #expect(UnifiedSocialCreditCode.organizationCheckCharacter(for: "m000100y") == "4")
        #expect(UnifiedSocialCreditCode.organizationCheckCharacter(for: "6000373") == nil)
        #expect(UnifiedSocialCreditCode.organizationCheckCharacter(for: "6000373-") == nil)
    }
}

import Model
@testable import RegistryCore
import ServiceKit
import Testing

/// The member rules on their own (no database): what each failure names, and the lengths
/// counted in characters, not bytes. A rule that must pass is simply called (a throw fails
/// the test); one that must fail goes through ``expectServiceError(_:sourceLocation:)``.
@Suite("Validation")
struct ValidationTests {
    /// The field and reason of an INVALID_ARGUMENT; nil for any other error.
    func invalid(_ error: ServiceError?) -> (field: String, reason: String)? {
        guard case .invalidArgument(let field, let reason, _) = error else { return nil }
        return (field, reason)
    }

    /// `member` validated as a CreateMember's.
    func validate(_ member: RegistryV1.Member) throws {
        _ = try RegistryStore.validatedMember(member, field: "member", today: Days.today(WallClock.nowMicroseconds()))
    }

    @Test("a text's length is its characters: Chinese, combining marks, the bounds, NUL")
    func textLength() async throws {
        try Validate.text(String(repeating: "张", count: 64), "name", 1...64)
        #expect(
            self.invalid(await expectServiceError { try Validate.text(String(repeating: "张", count: 65), "name", 1...64) })?
                .reason == "must be 1–64 characters, got 65")
        // e + U+0301 is one character of three bytes.
        try Validate.text(String(repeating: "e\u{301}", count: 32), "title", 0...32)
        #expect(
            self.invalid(await expectServiceError { try Validate.text(String(repeating: "e\u{301}", count: 33), "title", 0...32) })?
                .reason == "must be 0–32 characters, got 33")
        #expect(self.invalid(await expectServiceError { try Validate.text("", "name", 1...64) })?.reason == "required")
        try Validate.text("", "employer", 0...128)
        #expect(
            self.invalid(await expectServiceError { try Validate.text("ab", "code", 3...8) })?.reason
                == "must be 3–8 characters, got 2")
        #expect(
            self.invalid(await expectServiceError { try Validate.text("张\u{0}三", "name", 1...64) })?.reason
                == "must not contain NUL characters")
    }

    @Test("a field's path is only built when the rule fails")
    func lazyFieldPath() async throws {
        var built = 0
        func path() -> String {
            built += 1
            return "member.name"
        }
        try Validate.text("张三", path(), 1...64)
        #expect(built == 0)
        #expect(self.invalid(await expectServiceError { try Validate.text("", path(), 1...64) })?.field == "member.name")
        #expect(built == 1)
    }

    @Test("categories: none repeated, and details only for a category the member holds")
    func categories() async throws {
        var repeated = Fixtures.member("张三", category: .religious)
        repeated.additionalCategories = [.nonParty, .religious]
        #expect(self.invalid(await expectServiceError { try self.validate(repeated) })?.field == "member.additional_categories[1]")

        var details = Fixtures.member("李四", category: .nonParty)
        details.religiousDetails = RegistryV1.ReligiousDetails(religion: .buddhism)
        let wrong = self.invalid(await expectServiceError { try self.validate(details) })
        #expect(wrong?.field == "member.religious_details")
        #expect(wrong?.reason == "set only for members of category MEMBER_CATEGORY_RELIGIOUS")
        // Held as an additional category, the same details are fine.
        details.additionalCategories = [.religious]
        try self.validate(details)

        var compatriot = Fixtures.member("王五", category: .nonParty)
        compatriot.compatriotDetails = RegistryV1.CompatriotDetails()
        #expect(
            self.invalid(await expectServiceError { try self.validate(compatriot) })?.reason
                == "set only for members of category MEMBER_CATEGORY_HONG_KONG_COMPATRIOT or "
                + "MEMBER_CATEGORY_MACAO_COMPATRIOT or MEMBER_CATEGORY_TAIWAN_COMPATRIOT")

        var minority = Fixtures.member("赵六", category: .nonParty)
        minority.additionalCategories = [.ethnicMinority]
        #expect(self.invalid(await expectServiceError { try self.validate(minority) })?.field == "member.ethnicity_code")
        minority.ethnicityCode = "03"
        try self.validate(minority)
    }
}

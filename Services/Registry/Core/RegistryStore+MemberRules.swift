import Model
import ServiceKit

extension RegistryStore {
    /// `member` with every field checked and identifiers in canonical form (upper-case X,
    /// short region codes, 11-digit mobiles). Server-filled fields are left for the caller.
    /// - Throws: INVALID_ARGUMENT naming the field (prefixed with `field`) and the rule.
    static func validatedMember(
        _ member: RegistryV1.Member, field: String, today: Int
    ) throws(ServiceError) -> RegistryV1.Member {
        var member = member
        let region = try Validate.regionCode(member.regionCode, "\(field).region_code")
        guard region.level >= .county else {
            throw Validate.invalid(
                "\(field).region_code", "a member belongs to a county or a region below it, not a \(region.level)",
                "INVALID_REGION_CODE")
        }
        member.regionCode = region.code
        guard Validate.known(member.category) else {
            throw Validate.invalid("\(field).category", "required: one of the 12 member categories")
        }
        // The categories as bits (1 << raw value): known ones are 1…12.
        var seen = Self.bit(member.category)
        for (index, category) in member.additionalCategories.enumerated() {
            guard Validate.known(category) else {
                throw Validate.invalid("\(field).additional_categories[\(index)]", "not a member category")
            }
            let bit = Self.bit(category)
            guard seen & bit == 0 else {
                throw Validate.invalid(
                    "\(field).additional_categories[\(index)]",
                    "\(category) repeats the primary category or another entry")
            }
            seen |= bit
        }
        try Validate.text(member.name, "\(field).name", 1...64)
        guard member.gender == .unspecified || Validate.known(member.gender) else {
            throw Validate.invalid("\(field).gender", "not a gender")
        }
        try Validate.date(member.birthDate, "\(field).birth_date")
        if let birth = member.birthDate, Days.number(birth) > today {
            throw Validate.invalid("\(field).birth_date", "must not be in the future")
        }
        if !member.residentIdNumber.isEmpty {
            let number = try Validate.residentID(member.residentIdNumber, "\(field).resident_id_number", today: today)
            member.residentIdNumber = number.value
            let expected: RegistryV1.Gender = number.gender == .male ? .male : .female
            if member.gender != .unspecified && member.gender != expected {
                throw Validate.invalid(
                    "\(field).gender", "\(member.gender) disagrees with the resident ID number (\(expected))")
            }
            let birth = CommonV1.Date(
                year: Int32(number.birthDate.year), month: Int32(number.birthDate.month),
                day: Int32(number.birthDate.day))
            if let given = member.birthDate, given != birth {
                throw Validate.invalid("\(field).birth_date", "disagrees with the resident ID number")
            }
            member.gender = expected
            member.birthDate = birth
        }
        if !member.mobile.isEmpty {
            member.mobile = try Validate.mobile(member.mobile, "\(field).mobile")
        }
        if !member.ethnicityCode.isEmpty {
            guard member.ethnicityCode.count == 2, member.ethnicityCode.allSatisfy({ $0.isASCII && $0.isNumber }),
                let number = Int(member.ethnicityCode), (1...56).contains(number) || number == 97 || number == 98
            else {
                throw Validate.invalid("\(field).ethnicity_code", "must be a two-digit GB/T 3304 code, e.g. \"01\"")
            }
        }
        if seen & Self.bit(.ethnicMinority) != 0 {
            guard !member.ethnicityCode.isEmpty, member.ethnicityCode != "01" else {
                throw Validate.invalid(
                    "\(field).ethnicity_code", "required for ethnic-minority members, and not \"01\" (汉族)")
            }
        }
        if var place = member.nativePlace {
            if !place.regionCode.isEmpty {
                place.regionCode = try Validate.regionCode(place.regionCode, "\(field).native_place.region_code").code
            }
            try Validate.text(place.placeName, "\(field).native_place.place_name", 0...64)
            if place.regionCode.isEmpty && place.placeName.isEmpty {
                member.nativePlace = nil
            } else {
                member.nativePlace = place
            }
        }
        if !member.industryCode.isEmpty {
            let code = Array(member.industryCode)
            guard code.count <= 5, let first = code.first, first.isASCII, first.isUppercase,
                code.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber })
            else {
                throw Validate.invalid(
                    "\(field).industry_code", "must be a GB/T 4754 code: a section letter and up to 4 digits")
            }
        }
        guard member.specialties.count <= 20 else {
            throw Validate.invalid("\(field).specialties", "at most 20, got \(member.specialties.count)")
        }
        var specialties: Set<String> = []
        for (index, specialty) in member.specialties.enumerated() {
            try Validate.text(specialty, "\(field).specialties[\(index)]", 1...32)
            guard specialties.insert(specialty).inserted else {
                throw Validate.invalid("\(field).specialties[\(index)]", "\"\(specialty)\" appears twice")
            }
        }
        try Validate.text(member.employer, "\(field).employer", 0...128)
        try Validate.text(member.jobTitle, "\(field).job_title", 0...64)
        try Validate.text(member.education, "\(field).education", 0...32)
        guard member.politicalPosts.count <= 10 else {
            throw Validate.invalid("\(field).political_posts", "at most 10")
        }
        for (index, post) in member.politicalPosts.enumerated() {
            try Validate.text(post, "\(field).political_posts[\(index)]", 1...64)
        }
        try Validate.text(member.contactCadreId, "\(field).contact_cadre_id", 0...64)
        guard member.attributes.count <= 30 else {
            throw Validate.invalid("\(field).attributes", "at most 30")
        }
        var keys: Set<String> = []
        for (index, attribute) in member.attributes.enumerated() {
            let key = attribute.key
            guard (1...32).contains(key.utf8.count),
                key.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x5F })
            else {
                throw Validate.invalid("\(field).attributes[\(index)].key", "must be lower_snake_case, 1–32 characters")
            }
            guard keys.insert(key).inserted else {
                throw Validate.invalid("\(field).attributes[\(index)].key", "\"\(key)\" appears twice")
            }
            try Validate.text(attribute.value, "\(field).attributes[\(index)].value", 0...256)
        }
        try Self.validateDetails(&member, categories: seen, field: field)
        return member
    }

    /// A known category's bit in a set of categories kept as bits.
    private static func bit(_ category: RegistryV1.MemberCategory) -> UInt64 {
        1 << UInt64(truncatingIfNeeded: category.rawValue & 63)
    }

    private static func validateDetails(
        _ member: inout RegistryV1.Member, categories: UInt64, field: String
    ) throws(ServiceError) {
        func require(
            _ present: Bool, _ name: String, _ allowed: @autoclosure () -> [RegistryV1.MemberCategory]
        ) throws(ServiceError) {
            if present, categories & allowed().reduce(0, { $0 | Self.bit($1) }) == 0 {
                throw Validate.invalid(
                    "\(field).\(name)", "set only for members of category \(allowed().map(\.protoName).joined(separator: " or "))")
            }
        }
        try require(member.democraticPartyDetails != nil, "democratic_party_details", [.democraticParty])
        try require(member.intellectualDetails != nil, "intellectual_details", [.nonParty, .nonPartyIntellectual])
        try require(member.religiousDetails != nil, "religious_details", [.religious])
        try require(member.privateEconomyDetails != nil, "private_economy_details", [.privateEconomy])
        try require(member.newSocialStratumDetails != nil, "new_social_stratum_details", [.newSocialStratum])
        try require(member.overseasStudyDetails != nil, "overseas_study_details", [.overseasStudent])
        try require(
            member.compatriotDetails != nil, "compatriot_details",
            [.hongKongCompatriot, .macaoCompatriot, .taiwanCompatriot])
        try require(member.overseasChineseDetails != nil, "overseas_chinese_details", [.overseasChinese])
        if let details = member.democraticPartyDetails {
            guard Validate.known(details.party) else {
                throw Validate.invalid("\(field).democratic_party_details.party", "required")
            }
            try Validate.date(details.joinDate, "\(field).democratic_party_details.join_date")
        }
        if let details = member.religiousDetails {
            guard Validate.known(details.religion) else {
                throw Validate.invalid("\(field).religious_details.religion", "required")
            }
        }
        if var details = member.privateEconomyDetails {
            try Validate.text(details.enterpriseName, "\(field).private_economy_details.enterprise_name", 1...128)
            if !details.unifiedSocialCreditCode.isEmpty {
                details.unifiedSocialCreditCode = try Validate.creditCode(
                    details.unifiedSocialCreditCode, "\(field).private_economy_details.unified_social_credit_code")
            }
            guard details.employeeCount >= 0 else {
                throw Validate.invalid("\(field).private_economy_details.employee_count", "must not be negative")
            }
            guard details.annualRevenueFen >= 0 else {
                throw Validate.invalid("\(field).private_economy_details.annual_revenue_fen", "must not be negative")
            }
            member.privateEconomyDetails = details
        }
        if let details = member.newSocialStratumDetails {
            guard Validate.known(details.stratumGroup) else {
                throw Validate.invalid("\(field).new_social_stratum_details.stratum_group", "required")
            }
        }
        if let details = member.overseasChineseDetails {
            guard Validate.known(details.status) else {
                throw Validate.invalid("\(field).overseas_chinese_details.status", "required")
            }
        }
    }
}

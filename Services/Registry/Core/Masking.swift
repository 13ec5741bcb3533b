import Model

/// Personal data as callers without the personal-data permission see it (common.proto):
/// resident ID numbers as the first 6 and last 4 characters around 8 asterisks, mobiles as
/// "138****5678", credit codes and permit numbers likewise, birth dates left unset.
public enum Masking {
    /// `member` with its personal data masked and `personal_data_masked` set.
    public static func masked(_ member: RegistryV1.Member) -> RegistryV1.Member {
        var member = member
        member.residentIdNumber = Self.keepEnds(member.residentIdNumber, head: 6, tail: 4)
        member.mobile = Self.keepEnds(member.mobile, head: 3, tail: 4)
        member.birthDate = nil
        if var details = member.privateEconomyDetails {
            details.unifiedSocialCreditCode = Self.keepEnds(details.unifiedSocialCreditCode, head: 6, tail: 4)
            member.privateEconomyDetails = details
        }
        if var details = member.compatriotDetails {
            details.travelPermitNumber = Self.keepEnds(details.travelPermitNumber, head: 2, tail: 2)
            member.compatriotDetails = details
        }
        member.personalDataMasked = true
        return member
    }

    /// `organisation` with its credit code and contact mobile masked.
    public static func masked(_ organisation: RegistryV1.Organisation) -> RegistryV1.Organisation {
        var organisation = organisation
        organisation.unifiedSocialCreditCode = Self.keepEnds(organisation.unifiedSocialCreditCode, head: 6, tail: 4)
        organisation.contactMobile = Self.keepEnds(organisation.contactMobile, head: 3, tail: 4)
        organisation.personalDataMasked = true
        return organisation
    }

    /// `entry` with its identifier masked.
    public static func masked(_ entry: RegistryV1.NegativeListEntry) -> RegistryV1.NegativeListEntry {
        var entry = entry
        entry.residentIdNumber = Self.keepEnds(entry.residentIdNumber, head: 6, tail: 4)
        entry.unifiedSocialCreditCode = Self.keepEnds(entry.unifiedSocialCreditCode, head: 6, tail: 4)
        entry.personalDataMasked = true
        return entry
    }

    /// The first `head` and last `tail` characters around asterisks; "" stays "".
    static func keepEnds(_ value: String, head: Int, tail: Int) -> String {
        guard !value.isEmpty else {
            return value
        }
        let characters = Array(value)
        guard characters.count > head + tail else {
            return String(repeating: "*", count: characters.count)
        }
        return String(characters.prefix(head)) + String(repeating: "*", count: characters.count - head - tail)
            + String(characters.suffix(tail))
    }
}

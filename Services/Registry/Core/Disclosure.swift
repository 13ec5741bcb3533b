import Model

/// Personal data in responses (common.proto): shown to a caller holding the personal-data
/// permission for the record's region, masked (``Masking``) for everyone else.
extension Caller {
    /// `member` as this caller may see it.
    public func disclosed(_ member: RegistryV1.Member) -> RegistryV1.Member {
        self.maySeePersonalData(regionCode: member.regionCode) ? member : Masking.masked(member)
    }

    /// `organisation` as this caller may see it.
    public func disclosed(_ organisation: RegistryV1.Organisation) -> RegistryV1.Organisation {
        self.maySeePersonalData(regionCode: organisation.regionCode) ? organisation : Masking.masked(organisation)
    }

    /// `entry` as this caller may see it (an entry without a region needs a province-wide
    /// permission).
    public func disclosed(_ entry: RegistryV1.NegativeListEntry) -> RegistryV1.NegativeListEntry {
        self.maySeePersonalData(regionCode: entry.regionCode) ? entry : Masking.masked(entry)
    }

    /// `event` with the member or organisation it carries as this caller may see it.
    public func disclosed(_ event: RegistryV1.ChangeEvent) -> RegistryV1.ChangeEvent {
        var event = event
        event.member = event.member.map(self.disclosed)
        event.organisation = event.organisation.map(self.disclosed)
        return event
    }
}

/// A record whose personal data a response shows or masks per caller.
public protocol Disclosable {
    /// The record as `caller` may see it.
    func disclosed(to caller: Caller) -> Self
}

extension RegistryV1.Member: Disclosable {
    public func disclosed(to caller: Caller) -> Self { caller.disclosed(self) }
}

extension RegistryV1.Organisation: Disclosable {
    public func disclosed(to caller: Caller) -> Self { caller.disclosed(self) }
}

extension RegistryV1.NegativeListEntry: Disclosable {
    public func disclosed(to caller: Caller) -> Self { caller.disclosed(self) }
}

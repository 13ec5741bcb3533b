import Model
import ServiceKit

/// The region subtrees a caller works in (common.proto: "every caller's permission is scoped
/// to a region subtree"): records outside them are PERMISSION_DENIED (OUT_OF_REGION_SCOPE),
/// and a list, search, statistics or watch without a region covers the caller's subtree.
///
/// `unrestricted` is a caller with no scope given (the gateway sets none for provincial
/// administrators and for the services calling each other).
public struct RegionScope: Sendable, Hashable, CustomStringConvertible {
    /// The subtrees, or nil when unrestricted.
    public let regions: [RegionCode]?
    /// Their region-key prefixes (``RegionKeys/prefix(_:)``), in the same order.
    let prefixes: [String]

    /// Every region.
    public static let unrestricted = RegionScope(regions: nil)

    /// The subtrees of `regions` (none: the caller may reach no record). A code named twice,
    /// or inside another one named, adds nothing and is dropped, so a scope of one subtree
    /// named in several ways is still one subtree.
    public init(regions: [RegionCode]?) {
        guard let regions else {
            self.regions = nil
            self.prefixes = []
            return
        }
        // Widest first, so a subtree inside one already kept is seen as such.
        var kept: [(region: RegionCode, prefix: String)] = []
        for (region, prefix) in regions.map({ ($0, RegionKeys.prefix($0)) }).sorted(by: { $0.1.count < $1.1.count })
        where !kept.contains(where: { prefix.hasPrefix($0.prefix) }) {
            kept.append((region, prefix))
        }
        kept.sort { $0.region.code < $1.region.code }
        self.regions = kept.map(\.region)
        self.prefixes = kept.map(\.prefix)
    }

    /// Whether the caller reaches every region (no scope was given).
    public var isUnrestricted: Bool { self.regions == nil }

    /// The codes of the subtrees, comma-separated, for messages ("every region" when unrestricted).
    public var description: String {
        guard let regions else {
            return "every region"
        }
        return regions.isEmpty ? "no region" : regions.map(\.code).joined(separator: ", ")
    }

    /// Whether a record with the 12-digit region key `regionKey` lies in the scope. A record
    /// without a region ("", a province-wide negative-list entry) lies only in a scope that
    /// holds a whole province.
    public func contains(regionKey: String) -> Bool {
        self.regions == nil || RegionKeys.isWithin(regionKey, prefixes: self.prefixes)
    }

    /// Whether a record in region `code` lies in the scope ("": no region, as above).
    public func contains(regionCode code: String) -> Bool {
        self.contains(regionKey: RegionKeys.key(code))
    }

    /// Whether the whole subtree of `region` lies in the scope (its prefix does).
    public func covers(_ region: RegionCode) -> Bool {
        self.contains(regionKey: RegionKeys.prefix(region))
    }

    /// The scope of both callers' subtrees, as when a call names its scope in two headers.
    public func union(_ other: RegionScope) -> RegionScope {
        guard let regions = self.regions, let others = other.regions else {
            return .unrestricted
        }
        return RegionScope(regions: regions + others)
    }

    /// PERMISSION_DENIED (OUT_OF_REGION_SCOPE) unless the record `record`, in region `code`,
    /// lies in the scope. `record` is what the message names: for a stored record its id
    /// ("member m0…"), never where it is (not the caller's to know); for a region the request
    /// names, the field and the code ("member.region_code 440305001001").
    public func require(regionCode code: String, of record: @autoclosure () -> String) throws(ServiceError) {
        try self.require(regionKey: RegionKeys.key(code), of: record())
    }

    /// The same for a stored record with the 12-digit region key `regionKey`.
    public func require(regionKey: String, of record: @autoclosure () -> String) throws(ServiceError) {
        guard self.contains(regionKey: regionKey) else {
            throw self.outside(record())
        }
    }

    /// PERMISSION_DENIED (OUT_OF_REGION_SCOPE) unless the region above `region` lies in the
    /// scope: the region tree's node for a region belongs to the level above it, so a caller
    /// may add, rename, move or deactivate the regions strictly inside its subtrees but not the
    /// subtrees' own roots (nor, without a province in its scope, a province).
    public func requireCoversParent(of region: RegionCode, field: String) throws(ServiceError) {
        guard self.regions != nil else {
            return
        }
        guard let parent = region.parent, self.covers(parent) else {
            throw self.outside("\(field) \(region.code) (a region whose parent is outside it)")
        }
    }

    /// The region subtree a list, search, statistics or watch request covers for this caller:
    /// `requested` itself when it lies in the scope (PERMISSION_DENIED otherwise), and when it
    /// is empty ("the caller's whole scope") the scope's one subtree — or "" (every region)
    /// when unrestricted. A scope of several subtrees has no one subtree to stand for it: such
    /// a caller names one in `field` (INVALID_ARGUMENT). A malformed `requested` is returned
    /// as it is, for the request's own validation to reject.
    public func subtree(_ requested: String, field: String) throws(ServiceError) -> String {
        guard let regions else {
            return requested
        }
        if requested.isEmpty {
            guard !regions.isEmpty else {
                throw self.outside("every region")
            }
            guard regions.count == 1 else {
                throw ServiceError.invalidArgument(
                    field: field,
                    reason: "required: the caller's region scope has \(regions.count) subtrees (\(self)); name one of them or a region inside one",
                    errorReason: "INVALID_FIELD")
            }
            return regions[0].code
        }
        guard let region = try? RegionCode(validating: requested) else {
            return requested
        }
        try self.requireCovers(region, of: "\(field) \(requested)")
        return requested
    }

    /// PERMISSION_DENIED (OUT_OF_REGION_SCOPE) unless the whole subtree of `region` lies in the
    /// scope (a negative-list entry bars its whole subtree); `record` is what the message
    /// names, as for ``require(regionCode:of:)``. No region (nil) lies only in an unrestricted
    /// scope.
    public func requireCovers(_ region: RegionCode?, of record: @autoclosure () -> String) throws(ServiceError) {
        guard self.isUnrestricted || region.map(self.covers) == true else {
            throw self.outside(record())
        }
    }

    private func outside(_ subject: String) -> ServiceError {
        .permissionDenied(
            reason: "\(subject) lies outside the caller's region scope (\(self))", errorReason: "OUT_OF_REGION_SCOPE")
    }
}

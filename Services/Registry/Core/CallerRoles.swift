import ServiceKit

/// A role a registry RPC requires of its caller (registry_service.proto), named in the
/// `x-tongxin-roles` metadata.
public enum CallerRole: String, Sendable, Hashable, CaseIterable {
    /// ImportRegions and UpdateRegion (区划管理).
    case regionAdmin = "region-admin"
    /// AdmitMember, RejectMember and CreateMember with admit (认定).
    case admission
    /// AddNegativeListEntry and RemoveNegativeListEntry (准入负面清单).
    case negativeList = "negative-list"
    /// UpdateContactRecord of another cadre's record.
    case supervisor
}

/// The roles a caller holds: `all` for a caller whose gateway names none (the services and
/// provincial administrators, as with ``RegionScope/unrestricted``).
public struct CallerRoles: Sendable, Hashable, CustomStringConvertible {
    /// The roles, or nil for every role.
    public let roles: Set<CallerRole>?

    /// Every role.
    public static let all = CallerRoles(nil)

    /// The roles `roles` (nil: every role).
    public init(_ roles: Set<CallerRole>?) {
        self.roles = roles
    }

    /// Whether the caller holds `role`.
    public func holds(_ role: CallerRole) -> Bool {
        self.roles?.contains(role) ?? true
    }

    /// The roles' names, comma-separated, for messages.
    public var description: String {
        guard let roles else {
            return "every role"
        }
        return roles.isEmpty ? "no role" : roles.map(\.rawValue).sorted().joined(separator: ", ")
    }

    /// PERMISSION_DENIED (ROLE_NOT_ALLOWED) unless the caller holds `role`; `action` says what
    /// needs it ("AdmitMember").
    public func require(_ role: CallerRole, for action: @autoclosure () -> String) throws(ServiceError) {
        guard self.holds(role) else {
            throw ServiceError.permissionDenied(
                reason: "\(action()) needs the \(role.rawValue) role; the caller holds \(self)",
                errorReason: "ROLE_NOT_ALLOWED")
        }
    }
}

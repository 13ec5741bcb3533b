import Logging
import NIOCore
import Model
import RPC
import RegistryCore
import ServiceKit
import Synchronization

/// `tongxin.registry.v1.RegistryService` over gRPC: each RPC is the `RegistryStore` call of
/// the same name; errors become gRPC statuses with `google.rpc` details.
struct RegistryService: Sendable {
    typealias API = RegistryV1.RegistryService

    /// The store, once the database is open and migrated; UNAVAILABLE before.
    let store: Eventually<RegistryStore>
    let logger: Logger
    /// How often an idle WatchChanges stream looks for new changes when no commit of this
    /// process wakes it first (another instance's commits on a shared PostgreSQL).
    var pollInterval: Duration = .milliseconds(50)
    var heartbeatInterval: Duration = .seconds(30)
    /// Whether every call must say who is calling (`--require-caller`): without
    /// `x-tongxin-user`, `x-tongxin-regions` and `x-tongxin-roles` it is UNAUTHENTICATED, so a
    /// gateway that stops sending them fails closed instead of granting every region and role.
    var requireCaller = false

    /// The metadata naming the region subtrees where the caller may see personal data.
    static let personalDataHeader = "x-tongxin-personal-data-regions"
    /// The metadata naming the region subtrees the caller works in (its region scope).
    static let regionsHeader = "x-tongxin-regions"
    /// The metadata naming the caller's roles.
    static let rolesHeader = "x-tongxin-roles"

    /// The caller, from the call's metadata: `x-tongxin-user`, `x-tongxin-user-name`,
    /// `x-tongxin-regions` (comma-separated region codes: the subtrees the caller works in;
    /// records outside them are PERMISSION_DENIED; `*` or absent: every region) and
    /// `x-tongxin-personal-data-regions` (the subtrees where it holds the personal-data
    /// permission; none without it) and `x-tongxin-roles` (comma-separated: region-admin,
    /// admission, negative-list, supervisor; names of other services' roles are ignored;
    /// `*` or absent: every role). Authentication is not in place yet: the province's gateway sets
    /// these; an absent user is recorded as "anonymous".
    /// - Throws: INVALID_ARGUMENT naming the header when a region code in it is malformed.
    func caller(_ context: ServerContext) throws(ServiceError) -> Caller {
        // One pass over the metadata, each header value parsed once per distinct value (callers
        // send the same few on every call: parsing them each time cost GetMember ~12 % of its
        // rate, and a lookup per header ~4 %).
        var userID: String?
        var displayName: String?
        var prefixes: [String] = []
        var scope: RegionScope?
        var roles: Set<CallerRole>?
        for entry in context.metadata {
            guard case .string(let value) = entry.value else { continue }
            switch entry.key {
            case "x-tongxin-user":
                userID = userID ?? value
            case "x-tongxin-user-name":
                displayName = displayName ?? value
            case Self.personalDataHeader:
                prefixes += try Self.personalDataGrants.parse(value)
            case Self.regionsHeader:
                let named = try Self.scopes.parse(value)
                scope = scope?.union(named) ?? named
            case Self.rolesHeader:
                roles = (roles ?? []).union(try Self.roleGrants.parse(value))
            default:
                continue
            }
        }
        if self.requireCaller {
            let missing = [
                userID == nil ? "x-tongxin-user" : nil, scope == nil ? Self.regionsHeader : nil,
                roles == nil ? Self.rolesHeader : nil,
            ].compactMap { $0 }
            guard missing.isEmpty else {
                throw ServiceError.unauthenticated(
                    reason: "this registry requires the caller's identity; the call has no \(missing.joined(separator: ", "))")
            }
        }
        return Caller(
            userID: userID ?? "anonymous", displayName: displayName, personalDataPrefixes: prefixes,
            scope: scope ?? .unrestricted, roles: CallerRoles(roles))
    }

    private static let personalDataGrants = HeaderCache { value throws(ServiceError) in
        Caller.prefixes(of: try Self.regions(value, header: Self.personalDataHeader))
    }
    private static let scopes = HeaderCache { value throws(ServiceError) in
        Self.isEverything(value) ? .unrestricted : RegionScope(regions: try Self.regions(value, header: Self.regionsHeader))
    }
    private static let roleGrants = HeaderCache { value throws(ServiceError) in
        Self.isEverything(value)
            ? Set(CallerRole.allCases)
            : Set(value.split(separator: ",").compactMap { CallerRole(rawValue: String($0.filter { !$0.isWhitespace })) })
    }

    /// Whether a header value is `*`: every region, or every role.
    private static func isEverything(_ value: String) -> Bool {
        value.filter { !$0.isWhitespace } == "*"
    }

    /// The region codes of a comma-separated header value.
    /// - Throws: INVALID_ARGUMENT naming the header and the malformed code.
    private static func regions(_ value: String, header: String) throws(ServiceError) -> [RegionCode] {
        var regions: [RegionCode] = []
        for part in value.split(separator: ",") {
            let code = String(part.filter { !$0.isWhitespace })
            guard !code.isEmpty else { continue }
            do {
                regions.append(try RegionCode(validating: code))
            } catch {
                throw ServiceError.invalidArgument(
                    field: "metadata \(header)", reason: "\"\(code)\": \(error.description)", errorReason: "INVALID_FIELD")
            }
        }
        return regions
    }

    /// `request` with its region (`region_code`, at `path`) as the caller's scope has it: an
    /// empty one stands for the caller's subtree; one outside the scope is PERMISSION_DENIED
    /// (``RegionScope/subtree(_:field:)``).
    private static func inScope<R>(
        _ request: R, _ path: WritableKeyPath<R, String>, of caller: Caller
    ) throws(ServiceError) -> R {
        var request = request
        request[keyPath: path] = try caller.scope.subtree(request[keyPath: path], field: "region_code")
        return request
    }

    /// PERMISSION_DENIED (ROLE_NOT_ALLOWED) unless `caller` may see personal data in region
    /// `code` (empty: the whole province). A malformed code passes, for the store's
    /// INVALID_ARGUMENT naming the field.
    private static func requirePersonalData(_ caller: Caller, _ code: String, for what: String) throws(ServiceError) {
        guard code.isEmpty || (try? RegionCode(validating: code)) != nil else {
            return
        }
        if !caller.maySeePersonalData(regionCode: code) {
            throw ServiceError.permissionDenied(
                reason: "\(what) needs the personal-data permission for "
                    + (code.isEmpty ? "the whole province" : "region \(code)"),
                errorReason: "ROLE_NOT_ALLOWED")
        }
    }

    private func fail(_ error: ServiceError) -> RPCError {
        error.rpcError(domain: "registry.tongxin", logger: self.logger)
    }

    /// What `body` returns, or its failure as a gRPC status with `google.rpc` details.
    private func answering<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw self.fail(ServiceError.from(error))
        }
    }

    private func unary<M: RPCMethod>(
        _ router: inout Router, _ method: M.Type,
        _ body: @escaping @Sendable (M.Input, Caller) async throws -> M.Output
    ) {
        router.register(method) { (request: M.Input, context: ServerContext) async throws -> M.Output in
            try await self.answering { try await body(request, self.caller(context)) }
        }
    }

    /// A unary RPC whose response's record at `record` is shown to the caller as it may see it.
    private func unary<M: RPCMethod, D: Disclosable & Sendable>(
        _ router: inout Router, _ method: M.Type, disclosing record: any WritableKeyPath<M.Output, D?> & Sendable,
        _ body: @escaping @Sendable (M.Input, Caller) async throws -> M.Output
    ) {
        self.unary(&router, method) { request, caller in
            var response = try await body(request, caller)
            response[keyPath: record] = response[keyPath: record]?.disclosed(to: caller)
            return response
        }
    }

    /// A unary RPC whose response's records at `records` are shown to the caller as it may see them.
    private func unary<M: RPCMethod, D: Disclosable & Sendable>(
        _ router: inout Router, _ method: M.Type, disclosing records: any WritableKeyPath<M.Output, [D]> & Sendable,
        _ body: @escaping @Sendable (M.Input, Caller) async throws -> M.Output
    ) {
        self.unary(&router, method) { request, caller in
            var response = try await body(request, caller)
            response[keyPath: records] = response[keyPath: records].map { $0.disclosed(to: caller) }
            return response
        }
    }

    /// Registers every RPC of the service on `router`.
    func register(into router: inout Router) {
        let s = self.store
        // Region scope (common.proto): a record outside the caller's subtrees is PERMISSION_DENIED
        // (OUT_OF_REGION_SCOPE); a list without a region covers the caller's subtree. Writes
        // check it, and the roles they need, in the store, against the record as stored; reads
        // here or in the store. The region tree is readable by every caller.
        self.unary(&router, API.ImportRegions.self) { try await s.get().importRegions($0, caller: $1) }
        self.unary(&router, API.GetRegion.self) { r, _ in try await s.get().getRegion(r) }
        self.unary(&router, API.ListChildRegions.self) { r, _ in try await s.get().listChildRegions(r) }
        self.unary(&router, API.ListRegionAncestors.self) { r, _ in try await s.get().listRegionAncestors(r) }
        self.unary(&router, API.UpdateRegion.self) { try await s.get().updateRegion($0, caller: $1) }
        // Every response carrying a member, an organisation or a negative-list entry shows its
        // personal data only to a caller with the permission for its region (Caller.disclosed).
        // The request's bytes as received are what an idempotent retry is compared with: no
        // second encoding of the member per create. The response is the one the create
        // recorded, sent as it is when the caller may see the member's personal data.
        router.registerEncoded(API.CreateMember.self, receivingBytes: { request, received, context in
            try await self.answering {
                ByteBuffer(
                    bytes: try await s.get().createMemberEncoded(
                        request, caller: self.caller(context), requestBytes: Array(received.readableBytesView),
                        disclosing: true))
            }
        })
        // The hot read answers with the stored bytes when the caller may see them all.
        router.registerEncoded(API.GetMember.self) { (request: RegistryV1.GetMemberRequest, context: ServerContext) in
            try await self.answering {
                ByteBuffer(bytes: try await s.get().getMemberEncoded(request, disclosingTo: self.caller(context)))
            }
        }
        self.unary(&router, API.BatchGetMembers.self, disclosing: \.members) { r, c in
            try await s.get().batchGetMembers(r, scope: c.scope)
        }
        self.unary(&router, API.ListMembers.self, disclosing: \.members) { r, c in
            let r = try Self.inScope(r, \.regionCode, of: c)
            // Finding members by resident ID number tells whether a person is registered:
            // personal data, so it takes the permission for the whole subtree searched. (A
            // malformed region_code is left to the store's INVALID_ARGUMENT.)
            if !r.residentIdNumber.isEmpty {
                try Self.requirePersonalData(c, r.regionCode, for: "searching by resident_id_number")
            }
            return try await s.get().listMembers(r)
        }
        self.unary(&router, API.UpdateMember.self, disclosing: \.member) { try await s.get().updateMember($0, caller: $1) }
        self.unary(&router, API.AdmitMember.self, disclosing: \.member) { try await s.get().admitMember($0, caller: $1) }
        self.unary(&router, API.RejectMember.self, disclosing: \.member) { try await s.get().rejectMember($0, caller: $1) }
        self.unary(&router, API.SuspendMember.self, disclosing: \.member) { try await s.get().suspendMember($0, caller: $1) }
        self.unary(&router, API.ReinstateMember.self, disclosing: \.member) { try await s.get().reinstateMember($0, caller: $1) }
        self.unary(&router, API.ExitMember.self, disclosing: \.member) { try await s.get().exitMember($0, caller: $1) }
        self.unary(&router, API.ListMemberHistory.self) { r, c in try await s.get().listMemberHistory(r, scope: c.scope) }
        self.unary(&router, API.AddNegativeListEntry.self, disclosing: \.entry) { try await s.get().addNegativeListEntry($0, caller: $1) }
        self.unary(&router, API.RemoveNegativeListEntry.self, disclosing: \.entry) { try await s.get().removeNegativeListEntry($0, caller: $1) }
        self.unary(&router, API.ListNegativeListEntries.self, disclosing: \.entries) { r, c in
            let r = try Self.inScope(r, \.regionCode, of: c)
            // Finding the entry of an identifier ties a person or enterprise to its listing:
            // it takes the personal-data permission for the subtree searched (the proto).
            if !r.residentIdNumber.isEmpty {
                try Self.requirePersonalData(c, r.regionCode, for: "filtering by resident_id_number")
            }
            if !r.unifiedSocialCreditCode.isEmpty {
                try Self.requirePersonalData(c, r.regionCode, for: "filtering by unified_social_credit_code")
            }
            return try await s.get().listNegativeListEntries(r)
        }
        // Empty region_code asks about province-wide entries, which apply in every scope.
        // Whether a person is barred is personal data: a PERSON check takes the permission for
        // the region checked (the province when empty). An enterprise's standing is public
        // record (企业信用信息公示), and the pairing service checks enterprises: not gated.
        self.unary(&router, API.CheckNegativeList.self, disclosing: \.entries) { r, c in
            if !r.regionCode.isEmpty, (try? RegionCode(validating: r.regionCode)) != nil {
                try c.scope.require(regionCode: r.regionCode, of: "region_code \(r.regionCode)")
            }
            if r.subjectKind == .person {
                try Self.requirePersonalData(c, r.regionCode, for: "checking a person")
            }
            return try await s.get().checkNegativeList(r)
        }
        self.unary(&router, API.CreateOrganisation.self, disclosing: \.organisation) { try await s.get().createOrganisation($0, caller: $1) }
        self.unary(&router, API.GetOrganisation.self, disclosing: \.organisation) { r, c in
            try await s.get().getOrganisation(r, scope: c.scope)
        }
        self.unary(&router, API.ListOrganisations.self, disclosing: \.organisations) { r, c in
            try await s.get().listOrganisations(Self.inScope(r, \.regionCode, of: c))
        }
        self.unary(&router, API.UpdateOrganisation.self, disclosing: \.organisation) { try await s.get().updateOrganisation($0, caller: $1) }
        self.unary(&router, API.DissolveOrganisation.self, disclosing: \.organisation) { try await s.get().dissolveOrganisation($0, caller: $1) }
        self.unary(&router, API.ListOrganisationHistory.self) { r, c in
            try await s.get().listOrganisationHistory(r, scope: c.scope)
        }
        self.unary(&router, API.CreateMembership.self) { try await s.get().createMembership($0, caller: $1) }
        self.unary(&router, API.UpdateMembership.self) { try await s.get().updateMembership($0, caller: $1) }
        self.unary(&router, API.EndMembership.self) { try await s.get().endMembership($0, caller: $1) }
        self.unary(&router, API.ListMemberships.self) { r, c in try await s.get().listMemberships(r, scope: c.scope) }
        self.unary(&router, API.CreateContactRecord.self) { try await s.get().createContactRecord($0, caller: $1) }
        self.unary(&router, API.UpdateContactRecord.self) { try await s.get().updateContactRecord($0, caller: $1) }
        self.unary(&router, API.ListContactRecords.self) { r, c in
            try await s.get().listContactRecords(Self.inScope(r, \.regionCode, of: c))
        }
        self.unary(&router, API.ListOverdueContacts.self) { r, c in
            try await s.get().listOverdueContacts(Self.inScope(r, \.regionCode, of: c))
        }
        self.unary(&router, API.GetRegistryStatistics.self) { r, c in
            try await s.get().registryStatistics(Self.inScope(r, \.regionCode, of: c))
        }
        router.register(API.WatchChanges.self) { (request: RegistryV1.WatchChangesRequest, context: ServerContext, writer: ResponseWriter<RegistryV1.WatchChangesResponse>) in
            do {
                let caller = try self.caller(context)
                try await self.watch(Self.inScope(request, \.regionCode, of: caller), caller: caller, writer)
            } catch is CancellationError {
                throw CancellationError()
            } catch let error as RPCError {
                throw error
            } catch {
                throw self.fail(ServiceError.from(error))
            }
        }
    }

    /// WatchChanges: a token message at once, the backlog, `caught_up`, then live changes (as
    /// soon as this process commits them) and a heartbeat every `heartbeatInterval` while
    /// idle. Every message carries the token to resume right after it, so a watcher that
    /// reconnects misses and repeats nothing.
    func watch(
        _ request: RegistryV1.WatchChangesRequest, caller: Caller, _ writer: ResponseWriter<RegistryV1.WatchChangesResponse>
    ) async throws {
        let store = try self.store.get()
        let bounds = try await store.changeFeedBounds()
        var position: Int64
        if !request.resumeToken.isEmpty {
            position = try ChangeFeedToken.decode(request.resumeToken)
            guard position + 1 >= bounds.oldest || bounds.oldest == 0 else {
                throw ServiceError.failedPrecondition(
                    reason: "the changes after this token are no longer kept; list again and watch from now",
                    subject: "resume_token", errorReason: "RESUME_TOKEN_EXPIRED")
            }
        } else if request.replayRetained {
            position = max(0, bounds.oldest - 1)
        } else {
            position = bounds.latest
        }
        try await writer.write(RegistryV1.WatchChangesResponse(resumeToken: ChangeFeedToken.encode(position)))
        var caughtUp = false
        var lastSent = ContinuousClock.now
        while !Task.isCancelled {
            // Taken before the look, so a commit that lands during it wakes the wait below.
            let generation = store.commitGeneration
            let page = try await store.changes(
                after: position, limit: 500, entityKinds: request.entityKinds, regionCode: request.regionCode)
            for event in page.events {
                try await writer.write(
                    RegistryV1.WatchChangesResponse(
                        event: caller.disclosed(event), resumeToken: ChangeFeedToken.encode(event.sequence)))
                lastSent = ContinuousClock.now
            }
            let advanced = page.scannedThrough > position
            position = page.scannedThrough
            if advanced { continue }
            if !caughtUp || ContinuousClock.now - lastSent >= self.heartbeatInterval {
                try await writer.write(RegistryV1.WatchChangesResponse(resumeToken: ChangeFeedToken.encode(position), caughtUp: !caughtUp))
                caughtUp = true
                lastSent = ContinuousClock.now
            }
            await store.waitForChange(after: generation, timeout: self.pollInterval)
            try Task.checkCancellation()
        }
    }
}

/// What one metadata header's values mean, parsed once per distinct value (at most 1,024
/// values of up to 256 bytes kept).
private final class HeaderCache<T: Sendable>: Sendable {
    private let parser: @Sendable (String) throws(ServiceError) -> T
    private let parsed = Mutex<[String: T]>([:])

    init(_ parser: @escaping @Sendable (String) throws(ServiceError) -> T) {
        self.parser = parser
    }

    func parse(_ value: String) throws(ServiceError) -> T {
        if let known = self.parsed.withLock({ $0[value] }) {
            return known
        }
        let result = try self.parser(value)
        // Long values are parsed every time: a gateway's few values are short, and a cache of
        // whatever a caller sends must not grow with it.
        guard value.utf8.count <= 256 else {
            return result
        }
        self.parsed.withLock { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache[value] = result
        }
        return result
    }
}

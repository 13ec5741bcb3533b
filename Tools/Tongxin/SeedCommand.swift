import ArgumentParser
import Atomics
import Foundation
import Model
import RPC
import Synchronization

/// `tongxin seed ADDR`: a realistic province through the registry's public API.
struct SeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Fill a registry with a realistic province: regions, members of all 12 categories, organisations.",
        discussion: """
            The province is Hubei (湖北省) with its real city and county codes and names; townships \
            and villages are synthesized beneath each county with well-formed 12-digit codes. \
            Members get valid resident ID numbers, mobiles, native places, industries and \
            specialties; every village gets a liaison station (联络站), every township a chamber of \
            commerce (乡镇商会) and every county a federation of industry and commerce with a valid \
            credit code. Creates use fixed request ids, so seeding twice \
            creates nothing new. The default is a demo in seconds; --scale province makes about \
            26,000 villages and 500,000 members.

            Examples:
              tongxin seed 127.0.0.1:50051
              tongxin seed 127.0.0.1:50051 --scale province -c 64
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "demo (about 700 villages, 500 members) or province (about 26,000 villages, 500,000 members).")
    var scale: String = "demo"

    @Option(help: "Townships per county (overrides --scale).")
    var townships: Int?

    @Option(help: "Villages per township (overrides --scale).")
    var villages: Int?

    @Option(help: "Members (overrides --scale).")
    var members: Int?

    @Option(name: .customShort("c"), help: "Concurrent create calls.")
    var concurrency: Int = 32

    @Option(help: "Seed for the random choices, so two runs make the same province.")
    var seed: UInt64 = 20261123

    @Option(help: "Write member-ids.txt, member-names.txt, region-codes.txt and village-codes.txt here, for load templates ({{line:FILE}}).")
    var export: String?

    @Option(help: "With --export: also write create-requests.jsonl, N CreateMember requests for members not yet created (valid, unique), for a create load ({{next:FILE}}).")
    var exportCreates: Int = 0

    func validate() throws {
        guard ["demo", "province"].contains(self.scale) else { throw ValidationError("--scale \(self.scale): expected demo or province") }
        guard self.concurrency > 0 else { throw ValidationError("-c must be at least 1") }
        for (name, value) in [("--townships", self.townships), ("--villages", self.villages)] {
            if let value, !(1...999).contains(value) { throw ValidationError("\(name) must be 1–999") }
        }
        if let members = self.members, members < 0 { throw ValidationError("--members must not be negative") }
        guard self.exportCreates >= 0 else { throw ValidationError("--export-creates must not be negative") }
        guard self.exportCreates == 0 || self.export != nil else { throw ValidationError("--export-creates needs --export DIR") }
    }

    func run() async throws {
        let province = self.scale == "province"
        var plan = ProvincePlan(
            townshipsPerCounty: self.townships ?? (province ? 12 : 2),
            villagesPerTownship: self.villages ?? (province ? 21 : 3),
            memberCount: self.members ?? (province ? 500_000 : 500),
            random: SplitMix64(seed: self.seed))
        let client = try self.connection.client()
        defer { Task { await client.close() } }
        let progress = Progress(enabled: isatty(2) == 1)
        do {
            // Regions: one import per level, parents first.
            let regions = plan.regions()
            for (level, nodes) in regions.byLevel {
                for (index, chunk) in nodes.chunked(5000).enumerated() {
                    _ = try await client.unary(
                        RegistryV1.RegistryService.ImportRegions.self,
                        RegistryV1.ImportRegionsRequest(requestId: "seed-regions-\(level)-\(index)", regions: chunk),
                        options: Self.callOptions())
                    progress.update("regions", done: 0, total: 0, extra: "\(level): \(nodes.count)")
                }
            }
            // Organisations: a chamber of commerce per county, a liaison station per township.
            let organisations = plan.organisations(regions)
            try await self.createAll(organisations.count, label: "organisations", client: client, progress: progress) { i in
                _ = try await client.unary(
                    RegistryV1.RegistryService.CreateOrganisation.self,
                    RegistryV1.CreateOrganisationRequest(requestId: "seed-org-\(i)", organisation: organisations[i]), options: Self.callOptions())
            }
            // Members, spread over villages and townships.
            let places = regions.counties
            let homes = regions.villages.isEmpty ? places : regions.villages
            let count = plan.memberCount
            let baseSeed = self.seed
            let created = Mutex<[(Int, String, String)]>([])
            // Member i is the same on every run with the same --seed.
            let makeMember = { @Sendable (i: Int) -> RegistryV1.Member in
                var random = SplitMix64(seed: baseSeed &+ UInt64(i) &* 0x9E37_79B9)
                return MemberFactory.member(number: i, home: homes[i % homes.count], nativePlaces: places, random: &random)
            }
            try await self.createAll(count, label: "members", client: client, progress: progress) { i in
                let member = makeMember(i)
                let response = try await client.unary(
                    RegistryV1.RegistryService.CreateMember.self,
                    RegistryV1.CreateMemberRequest(requestId: "seed-member-\(i)", member: member, admit: true, reason: "seeded demo roll"), options: Self.callOptions())
                if let id = response.member?.id { created.withLock { $0.append((i, id, member.name)) } }
            }
            if let export = self.export {
                let members = created.withLock { $0 }.sorted { $0.0 < $1.0 }
                var files = [
                    ("member-ids.txt", members.map(\.1)), ("member-names.txt", members.map(\.2)),
                    ("region-codes.txt", regions.byLevel.flatMap { $0.1.map(\.code) }), ("village-codes.txt", regions.villages),
                ]
                if self.exportCreates > 0 {
                    // Numbered after the seeded members: the same factory, so valid and unique.
                    files.append(("create-requests.jsonl", try (count..<count + self.exportCreates).map { i in
                        let member = makeMember(i)
                        let request = RegistryV1.CreateMemberRequest(
                            requestId: "load-member-\(baseSeed)-\(i)", member: member, admit: true, reason: "load test")
                        return try ProtoJSON.json(
                            fromSerializedBytes: request.serializedBytes(), messageType: RegistryV1.CreateMemberRequest.protoMessageName
                        ).text
                    }))
                }
                try Self.write(export, files)
            }
            progress.finish()
            print("seeded \(regions.total) regions (\(regions.villages.count) villages), \(organisations.count) organisations, \(count) members")
        } catch let error as RPCError {
            progress.finish()
            throw Failure.exit(error)
        }
    }

    /// Writes one value per line into each file of `folder`.
    static func write(_ folder: String, _ files: [(String, [String])]) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for (name, lines) in files {
            let path = (folder as NSString).appendingPathComponent(name)
            guard FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8)) else {
                throw Failure.usage("--export \(folder): cannot write \(name)")
            }
        }
    }

    /// Each call's options: its own deadline, the seeding user (a provincial administrator:
    /// every region and every role, said explicitly so that a registry run with
    /// `--require-caller` accepts it), and waiting for the server.
    static func callOptions() -> CallOptions {
        var options = CallOptions(deadline: .after(.seconds(120)))
        options.metadata.add("x-tongxin-user", "tongxin-seed")
        options.metadata.add("x-tongxin-regions", "*")
        options.metadata.add("x-tongxin-roles", "*")
        options.waitForReady = true
        return options
    }

    /// Runs `create(0..<count)` with `concurrency` calls in flight, with a progress line.
    private func createAll(
        _ count: Int, label: String, client: RPCClient, progress: Progress,
        _ create: @escaping @Sendable (Int) async throws -> Void
    ) async throws {
        let next = ManagedAtomic<Int>(0)
        let done = ManagedAtomic<Int>(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<min(self.concurrency, max(1, count)) {
                group.addTask {
                    while true {
                        let i = next.loadThenWrappingIncrement(ordering: .relaxed)
                        guard i < count else { return }
                        try await create(i)
                        let finished = done.wrappingIncrementThenLoad(ordering: .relaxed)
                        if finished % 97 == 0 || finished == count { progress.update(label, done: finished, total: count) }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// A progress line on standard error when it is a terminal.
final class Progress: Sendable {
    let enabled: Bool
    init(enabled: Bool) { self.enabled = enabled }

    func update(_ label: String, done: Int, total: Int, extra: String = "") {
        guard self.enabled else { return }
        let bar: String
        if total > 0 {
            let filled = done * 30 / total
            bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] \(done)/\(total)"
        } else {
            bar = extra
        }
        FileHandle.standardError.write(Data("\r\(label.padding(toLength: 14, withPad: " ", startingAt: 0)) \(bar)   ".utf8))
    }

    func finish() {
        if self.enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// A small deterministic random generator, so a seed makes the same province every time.
struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The province's regions, by level, and the plan's sizes.
struct ProvincePlan {
    let townshipsPerCounty: Int
    let villagesPerTownship: Int
    let memberCount: Int
    var random: SplitMix64

    struct Regions {
        var byLevel: [(String, [RegistryV1.RegionImportNode])]
        var counties: [String]
        var townships: [String]
        var villages: [String]
        var total: Int { self.byLevel.reduce(0) { $0 + $1.1.count } }
    }

    static let townshipSuffixes = ["镇", "乡", "街道"]
    static let villageWords = ["东", "西", "南", "北", "新", "桥", "河", "山", "湾", "岭", "塘", "坪", "口", "铺", "畈", "岗"]

    mutating func regions() -> Regions {
        let divisions: [(code: String, name: String)] = hubeiDivisions.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
        let known = Set(divisions.map(\.code))
        var province: [RegistryV1.RegionImportNode] = []
        var cities: [RegistryV1.RegionImportNode] = []
        var counties: [RegistryV1.RegionImportNode] = []
        for (code, name) in divisions {
            if code.hasSuffix("0000") {
                province.append(.init(code: code, name: name))
            } else if code.hasSuffix("00") {
                cities.append(.init(code: code, name: name, parentCode: String(code.prefix(2)) + "0000"))
            } else {
                let city = String(code.prefix(4)) + "00"
                // Counties directly under the province (省直辖, 4290xx) have no city above them.
                counties.append(.init(code: code, name: name, parentCode: known.contains(city) ? city : String(code.prefix(2)) + "0000"))
            }
        }
        var townships: [RegistryV1.RegionImportNode] = []
        var villages: [RegistryV1.RegionImportNode] = []
        for county in counties {
            for t in 1...self.townshipsPerCounty {
                let townshipCode = county.code + String(format: "%03d", t) + "000"
                let stem = Self.villageWords.randomElement(using: &self.random)! + Self.villageWords.randomElement(using: &self.random)!
                let suffix = Self.townshipSuffixes[t % Self.townshipSuffixes.count]
                townships.append(.init(code: townshipCode, name: "\(stem)\(suffix)", parentCode: county.code))
                for v in 1...self.villagesPerTownship {
                    let villageCode = county.code + String(format: "%03d", t) + String(format: "%03d", v)
                    let word = Self.villageWords.randomElement(using: &self.random)! + Self.villageWords.randomElement(using: &self.random)!
                    villages.append(.init(code: villageCode, name: "\(word)村", parentCode: townshipCode))
                }
            }
        }
        return Regions(
            byLevel: [("province", province), ("city", cities), ("county", counties), ("township", townships), ("village", villages)],
            counties: counties.map(\.code), townships: townships.map(\.code), villages: villages.map(\.code))
    }

    mutating func organisations(_ regions: Regions) -> [RegistryV1.Organisation] {
        var names: [String: String] = [:]
        for (_, nodes) in regions.byLevel { for node in nodes { names[node.code] = node.name } }
        var result: [RegistryV1.Organisation] = []
        for (i, county) in regions.counties.enumerated() {
            result.append(RegistryV1.Organisation(
                name: "\(names[county] ?? county)工商联合会(总商会)", kind: .chamberOfCommerce, regionCode: county,
                unifiedSocialCreditCode: MemberFactory.creditCode(region: county, number: i, random: &self.random)))
        }
        for township in regions.townships {
            let county = String(township.prefix(6))
            result.append(RegistryV1.Organisation(
                name: "\(names[county] ?? "")\(names[township] ?? township)商会", kind: .townshipChamberOfCommerce, regionCode: township))
        }
        for village in regions.villages {
            let township = String(village.prefix(9)) + "000"
            result.append(RegistryV1.Organisation(
                name: "\(names[township] ?? "")\(names[village] ?? village)统战工作联络站", kind: .liaisonStation, regionCode: village))
        }
        return result
    }
}

extension Array {
    func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: self.count, by: size).map { Array(self[$0..<Swift.min($0 + size, self.count)]) }
    }
}

/// Members that pass every rule of the registry: valid ID numbers and mobiles, categories with
/// their details.
enum MemberFactory {
    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏吕丁任沈")
    static let given = Array("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌海燕春晓东云飞鹏辉")
    static let specialties = ["中医", "法律咨询", "电商运营", "农业技术", "书法", "教育辅导", "心理咨询", "建筑设计", "财务会计", "文艺演出", "医疗护理", "养殖技术"]
    static let industries = ["A01", "C27", "C13", "E47", "F51", "G54", "I65", "J66", "M74", "P83", "Q84", "R88"]

    static func member(number: Int, home: String, nativePlaces: [String], random: inout SplitMix64) -> RegistryV1.Member {
        let categories = RegistryV1.MemberCategory.allCases.filter { $0 != .unspecified }
        let category = categories[number % categories.count]
        let county = String(home.prefix(6))
        // Birth date and sequence come from the member's number through a bijection of the
        // 999 × 17,136 (sequence, day) pairs — multiplying by 1,000,003, prime to their count —
        // so no two members of a seed share a resident ID number and neighbours look unrelated.
        let slot = number % 17_118_864 * 1_000_003 % 17_118_864
        let sequence = slot % 999 + 1
        let dayIndex = slot / 999
        let year = 1950 + dayIndex / (12 * 28)
        let month = dayIndex / 28 % 12 + 1
        let day = dayIndex % 28 + 1
        let first17 = county + String(format: "%04d%02d%02d%03d", year, month, day, sequence)
        let id = first17 + String(ResidentIDNumber.checkCharacter(for: first17)!)
        var member = RegistryV1.Member(
            regionCode: home, category: category,
            name: String(self.surnames.randomElement(using: &random)!) + String(self.given.randomElement(using: &random)!)
                + (Bool.random(using: &random) ? String(self.given.randomElement(using: &random)!) : ""),
            ethnicityCode: category == .ethnicMinority ? ["03", "04", "05", "15"].randomElement(using: &random)! : "01",
            residentIdNumber: id,
            mobile: "1" + ["38", "39", "58", "86", "77"].randomElement(using: &random)! + String(format: "%08d", Int.random(in: 0...99_999_999, using: &random)),
            nativePlace: RegistryV1.NativePlace(regionCode: nativePlaces.randomElement(using: &random)!),
            industryCode: self.industries.randomElement(using: &random)!,
            specialties: Array(Set((0..<Int.random(in: 1...3, using: &random)).map { _ in self.specialties.randomElement(using: &random)! })).sorted())
        switch category {
        case .democraticParty:
            member.democraticPartyDetails = RegistryV1.DemocraticPartyDetails(
                party: RegistryV1.DemocraticParty.allCases.filter { $0 != .unspecified }.randomElement(using: &random)!)
        case .religious:
            member.religiousDetails = RegistryV1.ReligiousDetails(
                religion: RegistryV1.Religion.allCases.filter { $0 != .unspecified }.randomElement(using: &random)!)
        case .privateEconomy:
            member.privateEconomyDetails = RegistryV1.PrivateEconomyDetails(
                enterpriseName: "\(member.name)实业有限公司",
                unifiedSocialCreditCode: self.creditCode(region: county, number: number, random: &random),
                employeeCount: Int32.random(in: 5...2000, using: &random))
        default:
            break
        }
        return member
    }

    /// A valid unified social credit code (GB 32100) for an enterprise registered in `region`.
    static func creditCode(region: String, number: Int, random: inout SplitMix64) -> String {
        let digits = "0123456789"
        var organisation = String((0..<8).map { _ in digits.randomElement(using: &random)! })
        organisation += String(UnifiedSocialCreditCode.organizationCheckCharacter(for: organisation)!)
        let first17 = "91" + region + organisation
        return first17 + String(UnifiedSocialCreditCode.checkCharacter(for: first17)!)
    }
}

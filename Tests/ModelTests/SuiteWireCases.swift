import Model

/// Wire-compatibility cases on the suite's own contracts (their Python twins are in
/// `suite_cases()` of Tests/ModelTests/Python/wire_compat.py).
enum SuiteWireCases {
    typealias Case = WireCompatibilityTests.Case

    static var cases: [(String, Case)] {
        let member = RegistryV1.Member(
            id: "m-0001", regionCode: "420106001001", category: .privateEconomy,
            additionalCategories: [.overseasStudent, .unrecognized(99)], status: .active,
            name: "张三丰", gender: .male, birthDate: CommonV1.Date(year: 1965, month: 2, day: 28),
            ethnicityCode: "01", residentIdNumber: "11010519491231002X", mobile: "13800138000",
            nativePlace: RegistryV1.NativePlace(regionCode: "420100", placeName: "湖北省武汉市"),
            industryCode: "C2710", industryName: "医药制造业", specialties: ["中医", "法律咨询", "电商运营"],
            employer: "武汉同心医药有限公司", politicalPosts: [], version: .max)
        let change = RegistryV1.ChangeEvent(
            sequence: .max, changeKind: .unrecognized(-1), entityId: "m-0001", regionCode: "420106",
            changeTime: GoogleProtobuf.Timestamp(seconds: 1_795_000_000, nanos: 5),
            changedPaths: Array(repeating: "name", count: 100), member: member)
        return [
            ("registry_member_chinese", Case(member)),
            ("registry_change_event_nested", Case(change)),
            ("registry_member_empty", Case(RegistryV1.Member())),
        ]
    }
}

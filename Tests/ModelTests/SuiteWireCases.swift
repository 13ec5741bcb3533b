import Model

/// Wire-compatibility cases on the suite's own contracts (their Python twins are in
/// `suite_cases()` of Tests/ModelTests/Python/wire_compat.py).
enum SuiteWireCases {
    static var cases: [(String, WireCompatibilityTests.Case)] { [] }
}

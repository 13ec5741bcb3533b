import Foundation
import Model
import Testing

/// The Swift model and Python's protobuf agree byte for byte, in both directions, on the same
/// messages (built again in Tests/ModelTests/Python/wire_compat.py).
@Suite("Wire compatibility with Python's protobuf")
struct WireCompatibilityTests {
    /// One case: the Swift encoding, and a check of Python's bytes against the Swift value.
    struct Case: Sendable {
        let typeName: String
        let encode: @Sendable () -> [UInt8]
        let matches: @Sendable ([UInt8]) throws -> Bool

        init<M: ProtoMessage>(_ message: M) {
            self.typeName = M.protoMessageName
            self.encode = { message.serializedBytes() }
            self.matches = { try M(serializedBytes: $0) == message }
        }
    }

    typealias R = GRPCReflectionV1

    static let cases: [String: Case] = {
        var c: [String: Case] = [:]
        c["chinese_text_nested"] = Case(GRPCTesting.SimpleRequest(
            responseSize: 31415, payload: GRPCTesting.Payload(body: Data((0...255).map { UInt8($0) })),
            fillUsername: true,
            responseStatus: GRPCTesting.EchoStatus(code: 16, message: "同心聚力·共同缔造 🌾 乡村振兴")))
        c["unknown_enum_value"] = Case(GRPCTesting.Payload(type: .unrecognized(7777)))
        c["int64_extremes_timestamp_min"] = Case(GoogleProtobuf.Timestamp(seconds: .min, nanos: 999_999_999))
        c["int64_extremes_timestamp_max"] = Case(GoogleProtobuf.Timestamp(seconds: .max, nanos: -1))
        c["proto2_optional_extremes"] = Case(GoogleProtobuf.UninterpretedOption(
            name: [.init(namePart: "统战", isExtension: false)], identifierValue: "同心",
            positiveIntValue: .max, negativeIntValue: .min, doubleValue: -0.5,
            stringValue: Data([0x00, 0xFF]), aggregateValue: ""))
        c["empty_repeated"] = Case(GRPCTesting.StreamingOutputCallRequest())
        c["long_repeated"] = Case(GRPCTesting.StreamingOutputCallRequest(
            responseParameters: (0..<1000).map { GRPCTesting.ResponseParameters(size: Int32($0), intervalUs: Int32($0 * 2)) }))
        c["long_repeated_strings"] = Case(R.ListServiceResponse(service: (0..<500).map { R.ServiceResponse(name: "服务.\($0)") }))
        c["oneof_file_by_filename"] = Case(R.ServerReflectionRequest(host: "h", messageRequest: .fileByFilename("a.proto")))
        c["oneof_file_containing_symbol"] = Case(R.ServerReflectionRequest(messageRequest: .fileContainingSymbol("tongxin.X")))
        c["oneof_file_containing_extension"] = Case(R.ServerReflectionRequest(
            messageRequest: .fileContainingExtension(R.ExtensionRequest(containingType: "T", extensionNumber: 5))))
        c["oneof_all_extension_numbers_of_type"] = Case(R.ServerReflectionRequest(messageRequest: .allExtensionNumbersOfType("T")))
        c["oneof_list_services_empty_string"] = Case(R.ServerReflectionRequest(messageRequest: .listServices("")))
        c["oneof_none"] = Case(R.ServerReflectionRequest(host: "only-host"))
        c["oneof_file_descriptor_response"] = Case(R.ServerReflectionResponse(
            validHost: "v",
            messageResponse: .fileDescriptorResponse(R.FileDescriptorResponse(fileDescriptorProto: [Data([0x0A, 0x03, 0x61, 0x62, 0x63]), Data()]))))
        c["oneof_all_extension_numbers_response"] = Case(R.ServerReflectionResponse(
            messageResponse: .allExtensionNumbersResponse(R.ExtensionNumberResponse(baseTypeName: "B", extensionNumber: [1, .max]))))
        c["oneof_list_services_response"] = Case(R.ServerReflectionResponse(
            messageResponse: .listServicesResponse(R.ListServiceResponse(service: [R.ServiceResponse(name: "a")]))))
        c["oneof_error_response"] = Case(R.ServerReflectionResponse(
            messageResponse: .errorResponse(R.ErrorResponse(errorCode: 5, errorMessage: "未找到"))))
        c["oneof_empty_message_case"] = Case(R.ServerReflectionResponse(messageResponse: .listServicesResponse(R.ListServiceResponse())))
        c["maps"] = Case(GRPCTesting.LoadBalancerStatsResponse(
            rpcsByPeer: ["a": 1, "b": 2], numFailures: 3,
            rpcsByMethod: ["m": GRPCTesting.LoadBalancerStatsResponse.RpcsByPeer(rpcsByPeer: ["p": 4])]))
        for (name, value) in SuiteWireCases.cases { c[name] = value }
        return c
    }()

    @Test("Swift encodes → Python decodes and compares")
    func swiftToPython() throws {
        let encoded = Dictionary(uniqueKeysWithValues: Self.cases.map { ($0.key, Self.hex($0.value.encode())) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("wire-compat-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: encoded).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try PythonScript.run(["check", file.path])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("Python encodes → Swift decodes and compares")
    func pythonToSwift() throws {
        let result = try PythonScript.run(["encode"])
        try #require(result.status == 0, "\(result.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: String])
        #expect(Set(json.keys) == Set(Self.cases.keys))
        for (name, hexBytes) in json.sorted(by: { $0.key < $1.key }) {
            let testCase = try #require(Self.cases[name], "Python sent unknown case \(name)")
            #expect(try testCase.matches(Self.bytes(hexBytes)), "case \(name)")
        }
    }

    @Test("Swift's proto3 JSON parses in Python's json_format to the same message")
    func swiftJSONToPython() throws {
        var texts: [String: String] = [:]
        var unrepresentable: [String] = []
        for (name, testCase) in Self.cases {
            do {
                texts[name] = try ProtoJSON.json(fromSerializedBytes: testCase.encode(), messageType: testCase.typeName).text
            } catch {
                unrepresentable.append(name)
            }
        }
        #expect(unrepresentable.sorted() == ["int64_extremes_timestamp_max", "int64_extremes_timestamp_min"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("json-compat-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: texts).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try PythonScript.run(["json-check", file.path])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("Python's json_format output parses in Swift to the same message")
    func pythonJSONToSwift() throws {
        let result = try PythonScript.run(["json-encode"])
        try #require(result.status == 0, "\(result.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        for (name, value) in json.sorted(by: { $0.key < $1.key }) {
            let testCase = try #require(Self.cases[name])
            guard let text = value as? String else {
                #expect(throws: ProtoJSONError.self, "\(name): Python could not print it, nor should Swift") {
                    try ProtoJSON.json(fromSerializedBytes: testCase.encode(), messageType: testCase.typeName)
                }
                continue
            }
            let bytes = try ProtoJSON.serializedBytes(fromJSON: text, messageType: testCase.typeName)
            #expect(try testCase.matches(bytes), "case \(name): \(text.prefix(300))")
        }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return result
    }
}

/// Runs Tests/ModelTests/Python/wire_compat.py with the project's Python venv.
enum PythonScript {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The venv's Python: `TONGXIN_PYTHON`, or `.venv/bin/python` at the repository root, which
    /// the README's test command creates. Missing is a failure, not a skip.
    static var python: String {
        ProcessInfo.processInfo.environment["TONGXIN_PYTHON"]
            ?? repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: self.python)
        process.arguments = [repositoryRoot.appendingPathComponent("Tests/ModelTests/Python/wire_compat.py").path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

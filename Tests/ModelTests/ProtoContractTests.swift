import Foundation
import Testing

/// The published contracts compile with stock tools in the languages integration teams use.
@Suite("Protos compile with stock protoc for Python and C++")
struct ProtoContractTests {
    static let root = PythonScript.repositoryRoot
    static var projectProtos: [String] {
        let protos = root.appendingPathComponent("Protos")
        let enumerator = FileManager.default.enumerator(atPath: protos.path)!
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".proto") }.sorted()
    }

    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("protos-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("grpcio-tools generates Python messages and stubs, with no warnings, and they import")
    func python() throws {
        let out = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let protos = Self.projectProtos.filter { !$0.hasPrefix("google/") }
        let (status, output) = try Self.run(
            PythonScript.python,
            ["-m", "grpc_tools.protoc", "-I" + Self.root.appendingPathComponent("Protos").path,
             "--python_out=" + out.path, "--grpc_python_out=" + out.path] + protos)
        #expect(status == 0, "\(output)")
        #expect(output.isEmpty, "protoc printed: \(output)")
        let modules = protos.map { $0.replacingOccurrences(of: ".proto", with: "_pb2_grpc").replacingOccurrences(of: "/", with: ".") }
        let script = "import sys; sys.path.insert(0, '\(out.path)'); " + modules.map { "import \($0)" }.joined(separator: "; ")
        let (importStatus, importOutput) = try Self.run(PythonScript.python, ["-c", script])
        #expect(importStatus == 0, "\(importOutput)")
    }

    @Test("protoc generates C++ messages and gRPC stubs that g++ accepts")
    func cpp() throws {
        let out = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: out) }
        let (status, output) = try Self.run(
            "/usr/bin/protoc",
            ["-I" + Self.root.appendingPathComponent("Protos").path, "-I/usr/include",
             "--cpp_out=" + out.path, "--grpc_out=" + out.path,
             "--plugin=protoc-gen-grpc=/usr/bin/grpc_cpp_plugin"] + Self.projectProtos)
        #expect(status == 0, "\(output)")
        #expect(output.isEmpty, "protoc printed: \(output)")
        let sources = Self.projectProtos.flatMap {
            [$0.replacingOccurrences(of: ".proto", with: ".pb.cc"), $0.replacingOccurrences(of: ".proto", with: ".grpc.pb.cc")]
        }
        let (compileStatus, compileOutput) = try Self.run(
            "/usr/bin/g++", ["-std=c++17", "-fsyntax-only", "-I", out.path] + sources, in: out)
        #expect(compileStatus == 0, "\(compileOutput.prefix(4000))")
    }
}

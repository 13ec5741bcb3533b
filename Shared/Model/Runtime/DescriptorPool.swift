/// The descriptors of every proto file the suite was generated from, embedded in the binary:
/// what server reflection serves and what the client tool uses to describe any message.
///
/// The bytes are each file's serialized `google.protobuf.FileDescriptorProto` (without source
/// info), sliced out of `EmbeddedDescriptorBlob`; the tables beside them are generated.
public enum DescriptorPool {
    /// One proto file of the suite.
    public struct File: Sendable, Hashable {
        /// The file's name as imported, e.g. `tongxin/registry/v1/registry.proto`.
        public let name: String
        /// The files it imports, by name.
        public let dependencies: [String]
        /// Its serialized `FileDescriptorProto`.
        public let serializedDescriptor: [UInt8]
    }

    /// Every file, in dependency order (a file comes after everything it imports).
    public static let files: [File] = {
        let blob = EmbeddedDescriptorBlob.bytes
        return fileTable.map { entry in
            File(
                name: entry.name, dependencies: entry.dependencies,
                serializedDescriptor: Array(blob[entry.offset..<(entry.offset + entry.length)]))
        }
    }()

    private static let filesByName: [String: Int] = Dictionary(
        uniqueKeysWithValues: fileTable.enumerated().map { ($0.element.name, $0.offset) })

    private static let fileIndexBySymbol: [String: Int] = {
        var result: [String: Int] = [:]
        for line in symbolTable.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let index = Int(line[line.index(after: space)...]) else { continue }
            result[String(line[..<space])] = index
        }
        return result
    }()

    /// The file named `name`, or nil.
    public static func file(named name: String) -> File? {
        self.filesByName[name].map { self.files[$0] }
    }

    /// The file that declares `symbol` (a message, enum, enum value, field, service or method,
    /// package-qualified, with or without a leading dot), or nil.
    public static func file(containingSymbol symbol: String) -> File? {
        let key = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
        return self.fileIndexBySymbol[key].map { self.files[$0] }
    }

    /// `file` and everything it imports, transitively, each once, dependencies first.
    public static func fileWithDependencies(_ file: File) -> [File] {
        var seen: Set<String> = []
        var ordered: [File] = []
        func visit(_ f: File) {
            guard seen.insert(f.name).inserted else { return }
            for dependency in f.dependencies {
                if let d = self.file(named: dependency) { visit(d) }
            }
            ordered.append(f)
        }
        visit(file)
        return ordered
    }
}

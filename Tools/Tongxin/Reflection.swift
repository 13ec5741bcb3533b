import Model
import NIOCore
import RPC

/// A server-reflection conversation (grpc.reflection.v1) and what the answers describe.
struct Reflection {
    typealias V1 = GRPCReflectionV1
    let client: RPCClient
    let options: CallOptions

    /// Asks `questions` in one stream and returns the answers in order.
    func ask(_ questions: [V1.ServerReflectionRequest]) async throws(RPCError) -> [V1.ServerReflectionResponse] {
        let call = try await self.client.streamRaw(path: V1.ServerReflection.ServerReflectionInfo.descriptor.path, options: self.options)
        for question in questions {
            try await call.send(ByteBuffer(bytes: question.serializedBytes()))
        }
        try await call.closeSend()
        var answers: [V1.ServerReflectionResponse] = []
        while let buffer = try await call.receive() {
            do {
                answers.append(try V1.ServerReflectionResponse(serializedBytes: buffer.bytes))
            } catch {
                throw RPCError(code: .internal, message: "malformed reflection answer: \(error)")
            }
        }
        return answers
    }

    /// The names of the services the server lists.
    func services() async throws(RPCError) -> [String] {
        let answers = try await self.ask([V1.ServerReflectionRequest(messageRequest: .listServices(""))])
        guard case .listServicesResponse(let list)? = answers.first?.messageResponse else {
            throw Self.failure(answers.first)
        }
        return list.service.map(\.name).sorted()
    }

    /// The file declaring `symbol` and the files it imports, decoded.
    func files(containing symbol: String) async throws(RPCError) -> [GoogleProtobuf.FileDescriptorProto] {
        let answers = try await self.ask([V1.ServerReflectionRequest(messageRequest: .fileContainingSymbol(symbol))])
        guard case .fileDescriptorResponse(let files)? = answers.first?.messageResponse else {
            throw Self.failure(answers.first)
        }
        var result: [GoogleProtobuf.FileDescriptorProto] = []
        for data in files.fileDescriptorProto {
            do { result.append(try GoogleProtobuf.FileDescriptorProto(serializedData: data)) } catch {
                throw RPCError(code: .internal, message: "malformed FileDescriptorProto from the server: \(error)")
            }
        }
        return result
    }

    static func failure(_ answer: V1.ServerReflectionResponse?) -> RPCError {
        if case .errorResponse(let error)? = answer?.messageResponse {
            return RPCError(code: Status.Code(rawValue: Int(error.errorCode)) ?? .unknown, message: error.errorMessage)
        }
        return RPCError(code: .internal, message: "the server gave no reflection answer")
    }
}

/// Proto-like text for descriptors, as `describe` prints them.
enum DescriptorText {
    typealias Field = GoogleProtobuf.FieldDescriptorProto

    /// Finds `symbol` among `files` and describes it, or nil.
    static func describe(_ symbol: String, in files: [GoogleProtobuf.FileDescriptorProto]) -> String? {
        let symbol = symbol.hasPrefix(".") ? String(symbol.dropFirst()) : symbol
        for file in files {
            let package = file.package.map { $0 + "." } ?? ""
            for service in file.service {
                let name = package + (service.name ?? "")
                if name == symbol { return self.service(service, fullName: name) }
                for method in service.method where name + "." + (method.name ?? "") == symbol {
                    return "\(symbol) is a method:\n" + self.method(method)
                }
            }
            for message in file.messageType {
                if let text = self.find(symbol, message, prefix: package) { return text }
            }
            for e in file.enumType where package + (e.name ?? "") == symbol {
                return "\(symbol) is an enum:\n" + self.enumText(e, indent: "")
            }
        }
        return nil
    }

    private static func find(_ symbol: String, _ message: GoogleProtobuf.DescriptorProto, prefix: String) -> String? {
        let name = prefix + (message.name ?? "")
        if name == symbol { return "\(symbol) is a message:\n" + self.message(message, indent: "") }
        for nested in message.nestedType {
            if let text = self.find(symbol, nested, prefix: name + ".") { return text }
        }
        for e in message.enumType where name + "." + (e.name ?? "") == symbol {
            return "\(symbol) is an enum:\n" + self.enumText(e, indent: "")
        }
        for field in message.field where name + "." + (field.name ?? "") == symbol {
            return "\(symbol) is a field:\n" + self.field(field, mapEntries: [:])
        }
        return nil
    }

    static func service(_ service: GoogleProtobuf.ServiceDescriptorProto, fullName: String) -> String {
        var out = "\(fullName) is a service:\nservice \(service.name ?? "") {\n"
        for method in service.method { out += "  " + self.method(method) + "\n" }
        return out + "}"
    }

    static func method(_ method: GoogleProtobuf.MethodDescriptorProto) -> String {
        let input = (method.clientStreaming == true ? "stream " : "") + self.trim(method.inputType)
        let output = (method.serverStreaming == true ? "stream " : "") + self.trim(method.outputType)
        return "rpc \(method.name ?? "")(\(input)) returns (\(output));"
    }

    static func message(_ message: GoogleProtobuf.DescriptorProto, indent: String) -> String {
        var out = "\(indent)message \(message.name ?? "") {\n"
        var mapEntries: [String: GoogleProtobuf.DescriptorProto] = [:]
        for nested in message.nestedType where nested.options?.mapEntry == true {
            mapEntries[nested.name ?? ""] = nested
        }
        for nested in message.nestedType where nested.options?.mapEntry != true {
            out += self.message(nested, indent: indent + "  ") + "\n"
        }
        for e in message.enumType { out += self.enumText(e, indent: indent + "  ") + "\n" }
        var printedOneofs: Set<Int32> = []
        for field in message.field {
            if let oneof = field.oneofIndex {
                guard printedOneofs.insert(oneof).inserted else { continue }
                out += "\(indent)  oneof \(message.oneofDecl[Int(oneof)].name ?? "") {\n"
                for member in message.field where member.oneofIndex == oneof {
                    out += "\(indent)    " + self.field(member, mapEntries: mapEntries) + "\n"
                }
                out += "\(indent)  }\n"
            } else {
                out += "\(indent)  " + self.field(field, mapEntries: mapEntries) + "\n"
            }
        }
        return out + "\(indent)}"
    }

    static func field(_ field: Field, mapEntries: [String: GoogleProtobuf.DescriptorProto]) -> String {
        let typeName = self.trim(field.typeName)
        if field.label == .repeated, let entryName = typeName.split(separator: ".").last.map(String.init),
            let entry = mapEntries[entryName], entry.field.count == 2
        {
            return "map<\(self.typeText(entry.field[0])), \(self.typeText(entry.field[1]))> \(field.name ?? "") = \(field.number ?? 0);"
        }
        let label = field.label == .repeated ? "repeated " : ""
        return "\(label)\(self.typeText(field)) \(field.name ?? "") = \(field.number ?? 0);"
    }

    static func typeText(_ field: Field) -> String {
        switch field.type {
        case .message?, .enum?, .group?: return self.trim(field.typeName)
        case let type?: return type.protoName.replacingOccurrences(of: "TYPE_", with: "").lowercased()
        case nil: return self.trim(field.typeName)
        }
    }

    static func enumText(_ e: GoogleProtobuf.EnumDescriptorProto, indent: String) -> String {
        var out = "\(indent)enum \(e.name ?? "") {\n"
        for value in e.value { out += "\(indent)  \(value.name ?? "") = \(value.number ?? 0);\n" }
        return out + "\(indent)}"
    }

    static func trim(_ name: String?) -> String {
        guard let name else { return "" }
        return name.hasPrefix(".") ? String(name.dropFirst()) : name
    }
}

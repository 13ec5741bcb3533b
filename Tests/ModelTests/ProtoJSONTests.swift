import Model
import Testing

/// The proto3 JSON mapping on its own: names, well-known types, and errors that name the field.
@Suite("Proto3 JSON mapping")
struct ProtoJSONTests {
    static func json<M: ProtoMessage>(_ message: M, _ options: ProtoJSON.Options = .init()) throws -> String {
        try ProtoJSON.json(fromSerializedBytes: message.serializedBytes(), messageType: M.protoMessageName, options: options).text
    }

    static func parse<M: ProtoMessage>(_ text: String, as: M.Type) throws -> M {
        try M(serializedBytes: ProtoJSON.serializedBytes(fromJSON: text, messageType: M.protoMessageName))
    }

    @Test("lowerCamelCase names, enum names, int64 as strings, nested messages, omitted defaults")
    func basics() throws {
        let member = RegistryV1.Member(
            regionCode: "420106", category: .privateEconomy, name: "张三",
            nativePlace: .init(regionCode: "420100"), specialties: ["中医"], version: 9_007_199_254_740_993)
        #expect(try Self.json(member) == #"{"regionCode":"420106","category":"MEMBER_CATEGORY_PRIVATE_ECONOMY","name":"张三","nativePlace":{"regionCode":"420100"},"specialties":["中医"],"version":"9007199254740993"}"#)
        #expect(try Self.parse(#"{"region_code":"420106","category":6,"name":"张三","nativePlace":{"regionCode":"420100"},"specialties":["中医"],"version":9007199254740993}"#, as: RegistryV1.Member.self) == member)
    }

    @Test("a map is a JSON object, by either name of its field, and the names hold message after message")
    func maps() throws {
        let peers = GRPCTesting.LoadBalancerStatsResponse.RpcsByPeer(rpcsByPeer: ["10.0.0.1:443": 3])
        #expect(try Self.json(peers) == #"{"rpcsByPeer":{"10.0.0.1:443":3}}"#)
        // The field tables are built once per type: the second and later parses use them.
        for _ in 0..<3 {
            #expect(try Self.parse(#"{"rpcs_by_peer":{"10.0.0.1:443":3}}"#, as: GRPCTesting.LoadBalancerStatsResponse.RpcsByPeer.self) == peers)
            #expect(try Self.parse(#"{"rpcsByPeer":{"10.0.0.1:443":"3"}}"#, as: GRPCTesting.LoadBalancerStatsResponse.RpcsByPeer.self) == peers)
        }
        #expect(throws: ProtoJSONError.self) {
            try Self.parse(#"{"rpcsByPeer":[3]}"#, as: GRPCTesting.LoadBalancerStatsResponse.RpcsByPeer.self)
        }
    }

    @Test("Timestamp, Duration, FieldMask, wrappers and Empty use their JSON forms")
    func wellKnownTypes() throws {
        #expect(try Self.json(GoogleProtobuf.Timestamp(seconds: 1_795_430_000, nanos: 120_000_000)) == #""2026-11-23T10:33:20.120Z""#)
        #expect(try Self.parse(#""2026-11-23T18:33:20.12+08:00""#, as: GoogleProtobuf.Timestamp.self) == GoogleProtobuf.Timestamp(seconds: 1_795_430_000, nanos: 120_000_000))
        #expect(try Self.json(GoogleProtobuf.Timestamp(seconds: -62_135_596_800)) == #""0001-01-01T00:00:00Z""#)
        #expect(try Self.json(GoogleProtobuf.Duration(seconds: -1, nanos: -500_000_000)) == #""-1.500s""#)
        #expect(try Self.parse(#""3.000000001s""#, as: GoogleProtobuf.Duration.self) == GoogleProtobuf.Duration(seconds: 3, nanos: 1))
        #expect(try Self.json(GoogleProtobuf.FieldMask(paths: ["native_place.region_code", "name"])) == #""nativePlace.regionCode,name""#)
        #expect(try Self.parse(#""nativePlace.regionCode,name""#, as: GoogleProtobuf.FieldMask.self).paths == ["native_place.region_code", "name"])
        #expect(try Self.json(GoogleProtobuf.Int64Value(value: -5)) == #""-5""#)
        #expect(try Self.json(GoogleProtobuf.Empty()) == "{}")
    }

    @Test("Any carries @type and the message's fields")
    func any() throws {
        let status = GoogleRPC.Status(code: 3, message: "bad", details: [
            GoogleProtobuf.AnyMessage(
                typeUrl: "type.googleapis.com/google.rpc.BadRequest",
                value: GoogleRPC.BadRequest(fieldViolations: [.init(field: "name", description: "empty")]).serializedData())
        ])
        let text = try Self.json(status)
        #expect(text == #"{"code":3,"message":"bad","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"name","description":"empty"}]}]}"#)
        #expect(try Self.parse(text, as: GoogleRPC.Status.self) == status)
    }

    @Test("errors name the field and the reason", arguments: [
        (#"{"name": 5}"#, "field name: expected a string, got the number 5"),
        (#"{"nmae": "x"}"#, #"field nmae: tongxin.registry.v1.Member has no field named "nmae""#),
        (#"{"category": "PRIVATE"}"#, "field category: \"PRIVATE\" is not a value of tongxin.registry.v1.MemberCategory"),
        (#"{"nativePlace": {"regionCode": [1]}}"#, "field nativePlace.regionCode: expected a string, got an array"),
        (#"{"version": "1.5"}"#, "field version: \"1.5\" is not an integer in range for int64"),
        (#"{"specialties": "中医"}"#, "field specialties: expected a JSON array, got the string \"中医\""),
        (#"{"name": "x""#, "invalid JSON at byte 12: unterminated object"),
        (#"[1]"#, "expected a JSON object for tongxin.registry.v1.Member, got an array"),
    ])
    func errors(_ input: String, _ message: String) {
        do {
            _ = try ProtoJSON.serializedBytes(fromJSON: input, messageType: "tongxin.registry.v1.Member")
            Issue.record("\(input) was accepted")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }

    @Test("an unknown message type is an error, not a crash")
    func unknownType() {
        #expect(throws: ProtoJSONError.self) { try ProtoJSON.serializedBytes(fromJSON: "{}", messageType: "no.such.Type") }
    }

    @Test("JSON strings with escapes, surrogate pairs and deep nesting limits")
    func jsonSyntax() throws {
        #expect(try JSONValue.parse(#""a\"b\\c\u00e9\ud83c\udf3e""#) == .string("a\"b\\cé🌾"))
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(String(repeating: "[", count: 500)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse(#""\ud800""#) }
        #expect(JSONValue.string("a\n\u{01}").text == #""a\n\u0001""#)
    }
}

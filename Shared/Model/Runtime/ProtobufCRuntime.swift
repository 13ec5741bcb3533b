// This is the only Swift file of Model that imports the C modules CProtobufC and CTongxinProtos.
// It owns every pointer into libprotobuf-c: the arena messages are unpacked into and built in,
// the descriptor table, and the reads and writes of C message fields. Generated message code
// goes through `ProtobufCReader` and `ProtobufCWriter` by field index and never sees a pointer.
import CProtobufC
import CTongxinProtos
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// MARK: - Descriptor table

/// The libprotobuf-c descriptor of one generated message type.
///
/// Found once per type by its full name in the table that `Tools/generate.sh` writes into
/// CTongxinProtos. The generated Swift code states the field numbers it was written for; they
/// are checked against the C descriptor so stale generated code stops at once, by name.
public struct ProtobufCMessageType: @unchecked Sendable {
    // Safety: points at a `const` descriptor with static storage duration in CTongxinProtos.
    fileprivate let descriptor: UnsafePointer<ProtobufCMessageDescriptor>

    /// Looks up `name` and checks that its fields are `fieldNumbers`, in order of number.
    init(named name: String, fieldNumbers: [UInt32]) {
        guard let descriptor = ProtobufCDescriptorTable.shared.messages[name] else {
            preconditionFailure("\(name) is not in the protobuf-c descriptor table: run Tools/generate.sh")
        }
        let d = descriptor.pointee
        let actual = (0..<Int(d.n_fields)).map { d.fields[$0].id }
        precondition(
            actual == fieldNumbers,
            "generated Swift for \(name) expects fields \(fieldNumbers), protobuf-c has \(actual): run Tools/generate.sh")
        self.descriptor = descriptor
    }

    /// The message's full protobuf name, as libprotobuf-c knows it.
    public var name: String { String(cString: self.descriptor.pointee.name) }

    /// The message's field names in field-number order, as libprotobuf-c knows them.
    public var fieldNames: [String] {
        let d = self.descriptor.pointee
        return (0..<Int(d.n_fields)).map { String(cString: d.fields[$0].name) }
    }

    /// The size of the C struct, for tests of the arena.
    var cSize: Int { self.descriptor.pointee.sizeof_message }

    fileprivate init(descriptor: UnsafePointer<ProtobufCMessageDescriptor>) {
        self.descriptor = descriptor
    }

    /// The message type called `name` (full protobuf name, no leading dot), or nil.
    public static func named(_ name: String) -> ProtobufCMessageType? {
        ProtobufCDescriptorTable.shared.messages[name].map(ProtobufCMessageType.init(descriptor:))
    }

    /// Every field, in field-number order: what the dynamic message and JSON code walk.
    /// Built once per type (dynamic messages ask for it on every encode and decode).
    public var fields: [ProtoFieldInfo] { self.fieldTable.fields }

    /// Every field by its JSON name and by its proto name (the two keys proto3 JSON accepts),
    /// built once per type with ``fields``.
    public var fieldsByName: [String: ProtoFieldInfo] { self.fieldTable.byName }

    private var fieldTable: FieldTable {
        if let cached = fieldTables.withLock({ $0[UnsafeRawPointer(self.descriptor)] }) { return cached }
        let fields = self.makeFields()
        var byName: [String: ProtoFieldInfo] = [:]
        for field in fields {
            byName[field.jsonName] = field
            byName[field.name] = field
        }
        let table = FieldTable(fields: fields, byName: byName)
        fieldTables.withLock { $0[UnsafeRawPointer(self.descriptor)] = table }
        return table
    }

    private func makeFields() -> [ProtoFieldInfo] {
        let d = self.descriptor.pointee
        return (0..<Int(d.n_fields)).map { index in
            let f = d.fields[index]
            let name = String(cString: f.name)
            let isOneof = f.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0
            return ProtoFieldInfo(
                index: index, name: name, number: f.id, type: Self.fieldType(f),
                isRepeated: f.label == PROTOBUF_C_LABEL_REPEATED,
                tracksPresence: isOneof || f.label == PROTOBUF_C_LABEL_OPTIONAL || f.label == PROTOBUF_C_LABEL_REQUIRED
                    || (f.type == PROTOBUF_C_TYPE_MESSAGE && f.label != PROTOBUF_C_LABEL_REPEATED),
                isRequired: f.label == PROTOBUF_C_LABEL_REQUIRED,
                oneofGroup: isOneof ? Int(f.quantifier_offset) : nil)
        }
    }

    private static func fieldType(_ f: ProtobufCFieldDescriptor) -> ProtoFieldType {
        switch f.type {
        case PROTOBUF_C_TYPE_INT32: return .int32
        case PROTOBUF_C_TYPE_SINT32: return .sint32
        case PROTOBUF_C_TYPE_SFIXED32: return .sfixed32
        case PROTOBUF_C_TYPE_INT64: return .int64
        case PROTOBUF_C_TYPE_SINT64: return .sint64
        case PROTOBUF_C_TYPE_SFIXED64: return .sfixed64
        case PROTOBUF_C_TYPE_UINT32: return .uint32
        case PROTOBUF_C_TYPE_FIXED32: return .fixed32
        case PROTOBUF_C_TYPE_UINT64: return .uint64
        case PROTOBUF_C_TYPE_FIXED64: return .fixed64
        case PROTOBUF_C_TYPE_FLOAT: return .float
        case PROTOBUF_C_TYPE_DOUBLE: return .double
        case PROTOBUF_C_TYPE_BOOL: return .bool
        case PROTOBUF_C_TYPE_STRING: return .string
        case PROTOBUF_C_TYPE_BYTES: return .bytes
        case PROTOBUF_C_TYPE_ENUM:
            // descriptor points at the field's ProtobufCEnumDescriptor
            return .enumeration(ProtoEnumType(descriptor: f.descriptor!.assumingMemoryBound(to: ProtobufCEnumDescriptor.self)))
        case PROTOBUF_C_TYPE_MESSAGE:
            // descriptor points at the field's ProtobufCMessageDescriptor
            return .message(ProtobufCMessageType(descriptor: f.descriptor!.assumingMemoryBound(to: ProtobufCMessageDescriptor.self)))
        default:
            // protoc-c emits no other field types (groups are not supported by it)
            preconditionFailure("unknown protobuf-c field type \(f.type.rawValue)")
        }
    }
}

/// A message type's fields, in number order and by name.
private struct FieldTable: Sendable {
    let fields: [ProtoFieldInfo]
    let byName: [String: ProtoFieldInfo]
}

/// The field tables of the message types asked for so far, by descriptor address.
private let fieldTables = Mutex<[UnsafeRawPointer: FieldTable]>([:])

extension ProtobufCMessageType: Hashable {
    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.descriptor == rhs.descriptor }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.descriptor) }
}

/// An enum type as libprotobuf-c describes it: its full name and its values.
public struct ProtoEnumType: @unchecked Sendable, Hashable {
    // Safety: points at a `const` descriptor with static storage duration in CTongxinProtos.
    private let descriptor: UnsafePointer<ProtobufCEnumDescriptor>

    fileprivate init(descriptor: UnsafePointer<ProtobufCEnumDescriptor>) {
        self.descriptor = descriptor
    }

    /// The enum's full protobuf name.
    public var name: String { String(cString: self.descriptor.pointee.name) }

    /// Every value as declared: its name in the .proto and its number.
    public var values: [(name: String, number: Int32)] {
        let d = self.descriptor.pointee
        return (0..<Int(d.n_values)).map { (String(cString: d.values[$0].name), d.values[$0].value) }
    }

    /// The name of `number`, or nil when the enum does not know it.
    public func name(of number: Int32) -> String? {
        guard let value = protobuf_c_enum_descriptor_get_value(self.descriptor, number) else { return nil }
        return String(cString: value.pointee.name)
    }

    /// The number of the value called `name`, or nil.
    public func number(of name: String) -> Int32? {
        protobuf_c_enum_descriptor_get_value_by_name(self.descriptor, name)?.pointee.value
    }
}

/// Every message descriptor that protoc-c generated, by full name.
private final class ProtobufCDescriptorTable: Sendable {
    static let shared = ProtobufCDescriptorTable()

    // Safety: the pointers are to `const` static descriptors; the dictionary is never mutated.
    nonisolated(unsafe) let messages: [String: UnsafePointer<ProtobufCMessageDescriptor>]

    private init() {
        var messages: [String: UnsafePointer<ProtobufCMessageDescriptor>] = [:]
        let count = CTongxinProtos_message_descriptor_count()
        messages.reserveCapacity(count)
        for index in 0..<count {
            let descriptor = CTongxinProtos_message_descriptor(index)!
            messages[String(cString: descriptor.pointee.name)] = descriptor
        }
        self.messages = messages
    }
}

/// The serialized `FileDescriptorProto`s of every proto file the suite was generated from, as
/// one blob (without source info). Reflection and the client tool slice it by `DescriptorPool`.
public enum EmbeddedDescriptorBlob {
    /// The whole blob.
    public static var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: CTongxinProtos_descriptor_blob(), count: CTongxinProtos_descriptor_blob_size())
    }
}

// MARK: - Arena

/// A bump allocator that protobuf-c unpacks into and that messages are built in for packing.
/// Everything allocated lives until the arena is released: one free per message, not one per
/// field. Used only inside `withProtobufCArena`, so no pointer outlives it.
final class ProtobufCArena {
    private var chunks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer
    private var remaining: Int
    private var nextChunkSize: Int

    init(capacity: Int) {
        let size = max(512, capacity)
        let first = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        self.chunks = [first]
        self.cursor = first
        self.remaining = size
        self.nextChunkSize = size * 2
    }

    deinit {
        for chunk in self.chunks { chunk.deallocate() }
    }

    /// `size` bytes aligned to 16, zero-initialisation not promised.
    func allocate(_ size: Int) -> UnsafeMutableRawPointer {
        let rounded = (max(size, 1) + 15) & ~15
        if rounded > self.remaining {
            let chunkSize = max(rounded, self.nextChunkSize)
            let chunk = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 16)
            self.chunks.append(chunk)
            self.cursor = chunk
            self.remaining = chunkSize
            self.nextChunkSize = min(chunkSize * 2, 1 << 24)
        }
        let result = self.cursor
        self.cursor += rounded
        self.remaining -= rounded
        return result
    }

    /// A protobuf-c allocator view of this arena, valid while the arena is alive.
    func withAllocator<R>(_ body: (UnsafeMutablePointer<ProtobufCAllocator>) throws -> R) rethrows -> R {
        var allocator = ProtobufCAllocator(
            alloc: protobufCArenaAlloc,
            free: protobufCArenaFree,
            allocator_data: Unmanaged.passUnretained(self).toOpaque())
        return try body(&allocator)
    }
}

/// protobuf-c's allocation callback: translates to `ProtobufCArena.allocate`.
private func protobufCArenaAlloc(_ data: UnsafeMutableRawPointer?, _ size: Int) -> UnsafeMutableRawPointer? {
    guard let data else { return nil }
    return Unmanaged<ProtobufCArena>.fromOpaque(data).takeUnretainedValue().allocate(size)
}

/// protobuf-c's free callback: nothing to do, the arena frees everything at once.
private func protobufCArenaFree(_ data: UnsafeMutableRawPointer?, _ pointer: UnsafeMutableRawPointer?) {}

// MARK: - Decoding and encoding entry points

extension ProtobufCMessageType {
    /// Unpacks `bytes` as this type into an arena and lends a reader of the result to `body`.
    /// - Throws: `ProtoDecodingError.malformed` when libprotobuf-c rejects the bytes, and
    ///   whatever `body` throws.
    func withUnpacked<R>(
        _ bytes: UnsafeRawBufferPointer, _ body: (ProtobufCReader) throws(ProtoDecodingError) -> R
    ) throws(ProtoDecodingError) -> R {
        let arena = ProtobufCArena(capacity: self.cSize + bytes.count * 2)
        let unpacked = arena.withAllocator { allocator in
            protobuf_c_message_unpack(
                self.descriptor, allocator, bytes.count,
                bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(emptyInput))
        }
        guard let unpacked else { throw .malformed(messageType: self.name) }
        return try withExtendedLifetime(arena) { () throws(ProtoDecodingError) -> R in
            try body(ProtobufCReader(message: UnsafeRawPointer(unpacked), type: self, arena: arena))
        }
    }

    /// Builds a message of this type with `write` and lends its packed bytes to `body`.
    func withPacked<R, E: Error>(
        _ write: (ProtobufCWriter) -> Void, _ body: (UnsafeRawBufferPointer) throws(E) -> R
    ) throws(E) -> R {
        let arena = ProtobufCArena(capacity: self.cSize * 4 + 256)
        let message = ProtobufCWriter.build(type: self, arena: arena, write)
        let size = protobuf_c_message_get_packed_size(message)
        let output = arena.allocate(size).assumingMemoryBound(to: UInt8.self)
        let written = protobuf_c_message_pack(message, output)
        precondition(written == size, "protobuf-c packed \(written) of \(size) bytes")
        return try withExtendedLifetime(arena) { () throws(E) -> R in
            try body(UnsafeRawBufferPointer(start: output, count: size))
        }
    }
}

extension ProtoMessage {
    /// Decodes the protobuf wire bytes of this message type.
    /// - Throws: `ProtoDecodingError` for any malformed input; never crashes.
    public init(serializedBytes bytes: UnsafeRawBufferPointer) throws(ProtoDecodingError) {
        self = try Self.protobufC.withUnpacked(bytes) { (reader) throws(ProtoDecodingError) -> Self in
            try Self(protobufC: reader)
        }
    }

    /// Decodes the protobuf wire bytes of this message type.
    /// - Throws: `ProtoDecodingError` for any malformed input.
    public init(serializedBytes bytes: [UInt8]) throws(ProtoDecodingError) {
        self = try bytes.withUnsafeBytes { raw in
            Result { () throws(ProtoDecodingError) -> Self in try Self(serializedBytes: raw) }
        }.get()
    }

    /// Decodes the protobuf wire bytes of this message type.
    /// - Throws: `ProtoDecodingError` for any malformed input.
    public init(serializedData data: Data) throws(ProtoDecodingError) {
        self = try data.withUnsafeBytes { raw in
            Result { () throws(ProtoDecodingError) -> Self in try Self(serializedBytes: raw) }
        }.get()
    }

    /// Encodes the message and lends its wire bytes to `body`; the bytes are valid only there.
    public func withSerializedBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try Self.protobufC.withPacked({ self.write(protobufC: $0) }, body)
    }

    /// The message's protobuf wire bytes.
    public func serializedBytes() -> [UInt8] {
        self.withSerializedBytes { Array($0) }
    }

    /// The message's protobuf wire bytes.
    public func serializedData() -> Data {
        self.withSerializedBytes { Data($0) }
    }
}

/// protobuf-c wants a non-NULL data pointer even for zero bytes.
private nonisolated(unsafe) let emptyInput = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

// MARK: - Reading C messages

/// Reads the fields of one unpacked protobuf-c message, by field index (fields in order of
/// field number, as protoc-c lays out descriptors). Only generated code calls it.
public struct ProtobufCReader {
    private let message: UnsafeRawPointer
    private let type: ProtobufCMessageType
    private let arena: ProtobufCArena

    fileprivate init(message: UnsafeRawPointer, type: ProtobufCMessageType, arena: ProtobufCArena) {
        self.message = message
        self.type = type
        self.arena = arena
    }

    @inline(__always)
    private func field(_ index: Int) -> UnsafePointer<ProtobufCFieldDescriptor> {
        self.type.descriptor.pointee.fields + index
    }

    @inline(__always)
    private func member(_ index: Int) -> UnsafeRawPointer {
        self.message + Int(self.field(index).pointee.offset)
    }

    @inline(__always)
    private func count(_ index: Int) -> Int {
        (self.message + Int(self.field(index).pointee.quantifier_offset)).loadUnaligned(as: Int.self)
    }

    private func fieldName(_ index: Int) -> String {
        String(cString: self.field(index).pointee.name)
    }

    /// Whether a field that tracks presence (proto2 `optional`, message, oneof member) is set.
    func has(_ index: Int) -> Bool {
        let field = self.field(index).pointee
        if field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
            return self.oneofCase(index) == field.id
        }
        switch field.type {
        case PROTOBUF_C_TYPE_MESSAGE, PROTOBUF_C_TYPE_STRING:
            let pointer = self.member(index).loadUnaligned(as: UnsafeRawPointer?.self)
            return pointer != nil && pointer != field.default_value
        default:
            guard field.label == PROTOBUF_C_LABEL_OPTIONAL else { return true }
            return (self.message + Int(field.quantifier_offset)).loadUnaligned(as: protobuf_c_boolean.self) != 0
        }
    }

    /// The field number of the member set in the oneof that field `index` belongs to, or 0.
    func oneofCase(_ index: Int) -> UInt32 {
        (self.message + Int(self.field(index).pointee.quantifier_offset)).loadUnaligned(as: UInt32.self)
    }

    /// A fixed-size scalar: `Int32`, `UInt32`, `Int64`, `UInt64`, `Float`, `Double`.
    @inline(__always)
    func scalar<T: BitwiseCopyable>(_ index: Int, as: T.Type = T.self) -> T {
        self.member(index).loadUnaligned(as: T.self)
    }

    /// A `bool` field (a C `int`).
    @inline(__always)
    func bool(_ index: Int) -> Bool {
        self.member(index).loadUnaligned(as: protobuf_c_boolean.self) != 0
    }

    /// An enum field's raw number, kept even when the Swift enum does not know it.
    @inline(__always)
    func enumValue(_ index: Int) -> Int32 {
        self.member(index).loadUnaligned(as: Int32.self)
    }

    /// A `string` field. - Throws: `invalidUTF8` naming the field.
    func string(_ index: Int) throws(ProtoDecodingError) -> String {
        guard let pointer = self.member(index).loadUnaligned(as: UnsafePointer<CChar>?.self) else { return "" }
        return try self.decodeString(pointer, index)
    }

    private func decodeString(_ pointer: UnsafePointer<CChar>, _ index: Int) throws(ProtoDecodingError) -> String {
        guard let string = String(validatingCString: pointer) else {
            throw .invalidUTF8(messageType: self.type.name, field: self.fieldName(index))
        }
        return string
    }

    /// A `bytes` field.
    func bytes(_ index: Int) -> Data {
        Self.data(self.member(index).loadUnaligned(as: ProtobufCBinaryData.self))
    }

    private static func data(_ binary: ProtobufCBinaryData) -> Data {
        guard binary.len > 0, let data = binary.data else { return Data() }
        return Data(bytes: data, count: binary.len)
    }

    /// A singular message field, or nil when absent.
    func message<M: ProtoMessage>(_ index: Int, as: M.Type = M.self) throws(ProtoDecodingError) -> M? {
        guard let pointer = self.member(index).loadUnaligned(as: UnsafeRawPointer?.self) else { return nil }
        return try M(protobufC: ProtobufCReader(message: pointer, type: M.protobufC, arena: self.arena))
    }

    /// A reader of a singular message field, or nil when absent (for dynamic messages).
    func messageReader(_ index: Int, type: ProtobufCMessageType) -> ProtobufCReader? {
        guard let pointer = self.member(index).loadUnaligned(as: UnsafeRawPointer?.self) else { return nil }
        return ProtobufCReader(message: pointer, type: type, arena: self.arena)
    }

    /// Readers of a repeated message field's elements (for dynamic messages).
    func repeatedMessageReaders(_ index: Int, type: ProtobufCMessageType) -> [ProtobufCReader?] {
        self.repeatedScalar(index, as: UnsafeRawPointer?.self).map { pointer in
            pointer.map { ProtobufCReader(message: $0, type: type, arena: self.arena) }
        }
    }

    /// A repeated fixed-size scalar field.
    func repeatedScalar<T: BitwiseCopyable>(_ index: Int, as: T.Type = T.self) -> [T] {
        let count = self.count(index)
        guard count > 0, let array = self.member(index).loadUnaligned(as: UnsafeRawPointer?.self) else { return [] }
        return Array(UnsafeBufferPointer(start: array.assumingMemoryBound(to: T.self), count: count))
    }

    /// A repeated `bool` field.
    func repeatedBool(_ index: Int) -> [Bool] {
        self.repeatedScalar(index, as: protobuf_c_boolean.self).map { $0 != 0 }
    }

    /// A repeated enum field's raw numbers.
    func repeatedEnumValues(_ index: Int) -> [Int32] {
        self.repeatedScalar(index, as: Int32.self)
    }

    /// A repeated `string` field. - Throws: `invalidUTF8` naming the field.
    func repeatedString(_ index: Int) throws(ProtoDecodingError) -> [String] {
        let pointers = self.repeatedScalar(index, as: UnsafePointer<CChar>?.self)
        var result: [String] = []
        result.reserveCapacity(pointers.count)
        for pointer in pointers {
            result.append(try pointer.map { (p) throws(ProtoDecodingError) -> String in try self.decodeString(p, index) } ?? "")
        }
        return result
    }

    /// A repeated `bytes` field.
    func repeatedBytes(_ index: Int) -> [Data] {
        self.repeatedScalar(index, as: ProtobufCBinaryData.self).map(Self.data)
    }

    /// A repeated message field.
    func repeatedMessage<M: ProtoMessage>(_ index: Int, as: M.Type = M.self) throws(ProtoDecodingError) -> [M] {
        let pointers = self.repeatedScalar(index, as: UnsafeRawPointer?.self)
        var result: [M] = []
        result.reserveCapacity(pointers.count)
        let type = M.protobufC
        for pointer in pointers {
            guard let pointer else { result.append(M()); continue }
            result.append(try M(protobufC: ProtobufCReader(message: pointer, type: type, arena: self.arena)))
        }
        return result
    }
}

// MARK: - Building C messages

/// Writes the fields of one protobuf-c message being built in an arena, by field index.
/// Only generated code calls it. Proto3 fields at their default need not be written: protobuf-c
/// skips zero values when packing, just as the wire format wants.
public struct ProtobufCWriter {
    private let message: UnsafeMutableRawPointer
    private let type: ProtobufCMessageType
    private let arena: ProtobufCArena

    private init(message: UnsafeMutableRawPointer, type: ProtobufCMessageType, arena: ProtobufCArena) {
        self.message = message
        self.type = type
        self.arena = arena
    }

    /// Allocates and initialises a C message for `value` in `arena` and writes its fields.
    fileprivate static func build(
        type: ProtobufCMessageType, arena: ProtobufCArena, _ write: (ProtobufCWriter) -> Void
    ) -> UnsafeMutablePointer<ProtobufCMessage> {
        let descriptor = type.descriptor.pointee
        let raw = arena.allocate(descriptor.sizeof_message)
        let message = raw.bindMemory(to: ProtobufCMessage.self, capacity: 1)
        descriptor.message_init(message)
        write(ProtobufCWriter(message: raw, type: type, arena: arena))
        return message
    }

    private static func build<M: ProtoMessage>(
        _ value: M, type: ProtobufCMessageType, arena: ProtobufCArena
    ) -> UnsafeMutablePointer<ProtobufCMessage> {
        self.build(type: type, arena: arena) { value.write(protobufC: $0) }
    }

    /// A singular message field of `type`, written by `write` (for dynamic messages).
    func setMessage(_ index: Int, type: ProtobufCMessageType, _ write: (ProtobufCWriter) -> Void) {
        let built = Self.build(type: type, arena: self.arena, write)
        self.member(index).storeBytes(of: UnsafeMutableRawPointer(built), as: UnsafeMutableRawPointer?.self)
        self.markPresent(index)
    }

    /// A repeated message field of `type` with `count` elements, each written by `write`.
    func setRepeatedMessage(_ index: Int, type: ProtobufCMessageType, count: Int, _ write: (Int, ProtobufCWriter) -> Void) {
        self.setArray(index, count: count, element: UnsafeMutableRawPointer?.self) { storage in
            for offset in 0..<count {
                let built = Self.build(type: type, arena: self.arena) { write(offset, $0) }
                (storage + offset).initialize(to: UnsafeMutableRawPointer(built))
            }
        }
    }

    @inline(__always)
    private func field(_ index: Int) -> UnsafePointer<ProtobufCFieldDescriptor> {
        self.type.descriptor.pointee.fields + index
    }

    @inline(__always)
    private func member(_ index: Int) -> UnsafeMutableRawPointer {
        self.message + Int(self.field(index).pointee.offset)
    }

    /// Marks a field present: the oneof case for oneof members, `has_` for proto2 optional
    /// scalars; nothing for other fields.
    private func markPresent(_ index: Int) {
        let field = self.field(index).pointee
        if field.flags & UInt32(PROTOBUF_C_FIELD_FLAG_ONEOF.rawValue) != 0 {
            (self.message + Int(field.quantifier_offset)).storeBytes(of: field.id, as: UInt32.self)
        } else if field.label == PROTOBUF_C_LABEL_OPTIONAL && field.type != PROTOBUF_C_TYPE_MESSAGE
            && field.type != PROTOBUF_C_TYPE_STRING
        {
            (self.message + Int(field.quantifier_offset)).storeBytes(of: 1, as: protobuf_c_boolean.self)
        }
    }

    /// A fixed-size scalar: `Int32`, `UInt32`, `Int64`, `UInt64`, `Float`, `Double`.
    @inline(__always)
    func setScalar<T: BitwiseCopyable>(_ index: Int, _ value: T) {
        self.member(index).storeBytes(of: value, as: T.self)
        self.markPresent(index)
    }

    /// A `bool` field.
    @inline(__always)
    func setBool(_ index: Int, _ value: Bool) {
        self.setScalar(index, protobuf_c_boolean(value ? 1 : 0))
    }

    /// An enum field, by raw number.
    @inline(__always)
    func setEnumValue(_ index: Int, _ value: Int32) {
        self.setScalar(index, value)
    }

    private func cString(_ value: String) -> UnsafeMutablePointer<CChar> {
        var value = value
        return value.withUTF8 { utf8 in
            let pointer = self.arena.allocate(utf8.count + 1)
            if let base = utf8.baseAddress { pointer.copyMemory(from: base, byteCount: utf8.count) }
            pointer.storeBytes(of: 0, toByteOffset: utf8.count, as: UInt8.self)
            return pointer.assumingMemoryBound(to: CChar.self)
        }
    }

    /// A `string` field. An embedded NUL ends the string (libprotobuf-c keeps C strings).
    func setString(_ index: Int, _ value: String) {
        self.member(index).storeBytes(of: self.cString(value), as: UnsafeMutablePointer<CChar>?.self)
        self.markPresent(index)
    }

    private func binary(_ value: Data) -> ProtobufCBinaryData {
        guard !value.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = self.arena.allocate(value.count)
        value.copyBytes(to: pointer.assumingMemoryBound(to: UInt8.self), count: value.count)
        return ProtobufCBinaryData(len: value.count, data: pointer.assumingMemoryBound(to: UInt8.self))
    }

    /// A `bytes` field.
    func setBytes(_ index: Int, _ value: Data) {
        self.member(index).storeBytes(of: self.binary(value), as: ProtobufCBinaryData.self)
        self.markPresent(index)
    }

    /// A singular message field.
    func setMessage<M: ProtoMessage>(_ index: Int, _ value: M) {
        let built = Self.build(value, type: M.protobufC, arena: self.arena)
        self.member(index).storeBytes(of: UnsafeMutableRawPointer(built), as: UnsafeMutableRawPointer?.self)
        self.markPresent(index)
    }

    private func setArray<T>(_ index: Int, count: Int, element: T.Type, fill: (UnsafeMutablePointer<T>) -> Void) {
        guard count > 0 else { return }
        let field = self.field(index).pointee
        let storage = self.arena.allocate(MemoryLayout<T>.stride * count).bindMemory(to: T.self, capacity: count)
        fill(storage)
        (self.message + Int(field.quantifier_offset)).storeBytes(of: count, as: Int.self)
        self.member(index).storeBytes(of: UnsafeMutableRawPointer(storage), as: UnsafeMutableRawPointer?.self)
    }

    /// A repeated fixed-size scalar field.
    func setRepeatedScalar<T: BitwiseCopyable>(_ index: Int, _ values: [T]) {
        self.setArray(index, count: values.count, element: T.self) { storage in
            values.withUnsafeBufferPointer { storage.update(from: $0.baseAddress!, count: values.count) }
        }
    }

    /// A repeated `bool` field.
    func setRepeatedBool(_ index: Int, _ values: [Bool]) {
        self.setRepeatedScalar(index, values.map { protobuf_c_boolean($0 ? 1 : 0) })
    }

    /// A repeated enum field, by raw numbers.
    func setRepeatedEnumValues(_ index: Int, _ values: [Int32]) {
        self.setRepeatedScalar(index, values)
    }

    /// A repeated `string` field.
    func setRepeatedString(_ index: Int, _ values: [String]) {
        self.setArray(index, count: values.count, element: UnsafeMutablePointer<CChar>?.self) { storage in
            for (offset, value) in values.enumerated() { (storage + offset).initialize(to: self.cString(value)) }
        }
    }

    /// A repeated `bytes` field.
    func setRepeatedBytes(_ index: Int, _ values: [Data]) {
        self.setArray(index, count: values.count, element: ProtobufCBinaryData.self) { storage in
            for (offset, value) in values.enumerated() { (storage + offset).initialize(to: self.binary(value)) }
        }
    }

    /// A repeated message field.
    func setRepeatedMessage<M: ProtoMessage>(_ index: Int, _ values: [M]) {
        let type = M.protobufC
        self.setArray(index, count: values.count, element: UnsafeMutableRawPointer?.self) { storage in
            for (offset, value) in values.enumerated() {
                (storage + offset).initialize(to: UnsafeMutableRawPointer(Self.build(value, type: type, arena: self.arena)))
            }
        }
    }
}

import NIOCore

/// One gRPC message as framed on the wire: the compressed flag and the payload.
struct FramedMessage: Sendable {
    var compressed: Bool
    var payload: ByteBuffer
}

/// Why the length-prefixed stream could not be read.
enum DeframingError: Error, Hashable, Sendable {
    /// A message's declared length is larger than allowed.
    case messageTooLarge(length: Int, limit: Int)
    /// The compressed-flag byte was neither 0 nor 1.
    case invalidCompressionFlag(UInt8)
    /// The stream ended in the middle of a message.
    case truncated

    /// The status a peer sees for this error.
    var rpcError: RPCError {
        switch self {
        case .messageTooLarge(let length, let limit):
            return RPCError(code: .resourceExhausted,
                message: "message of \(length) bytes is larger than the limit of \(limit) bytes")
        case .invalidCompressionFlag(let flag):
            return RPCError(code: .internal, message: "invalid compressed flag \(flag) in message prefix")
        case .truncated:
            return RPCError(code: .internal, message: "stream ended inside a length-prefixed message")
        }
    }
}

/// Reads length-prefixed messages (1 byte flag, 4 bytes big-endian length, payload) from
/// DATA chunks split in any way; refuses any message larger than `maxMessageSize` as soon as
/// its prefix arrives, before buffering it.
struct MessageDeframer {
    /// The largest payload accepted.
    let maxMessageSize: Int
    private var buffer: ByteBuffer?

    init(maxMessageSize: Int) {
        self.maxMessageSize = maxMessageSize
        self.buffer = nil
    }

    /// Whether bytes of an incomplete message are held.
    var hasPartialMessage: Bool {
        guard let buffer = self.buffer else { return false }
        return buffer.readableBytes > 0
    }

    /// Adds received bytes.
    mutating func append(_ bytes: ByteBuffer) {
        if var buffer = self.buffer, buffer.readableBytes > 0 {
            buffer.writeImmutableBuffer(bytes)
            self.buffer = buffer
        } else {
            self.buffer = bytes
        }
    }

    /// The next complete message, or `nil` until more bytes arrive.
    mutating func next() throws(DeframingError) -> FramedMessage? {
        guard var buffer = self.buffer, buffer.readableBytes >= 5 else { return nil }
        let start = buffer.readerIndex
        let flag = buffer.getInteger(at: start, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: start + 1, as: UInt32.self)!)
        guard flag <= 1 else { throw .invalidCompressionFlag(flag) }
        guard length <= self.maxMessageSize else {
            throw .messageTooLarge(length: length, limit: self.maxMessageSize)
        }
        guard buffer.readableBytes >= 5 + length else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let payload = buffer.readSlice(length: length)!
        self.buffer = buffer.readableBytes > 0 ? buffer : nil
        return FramedMessage(compressed: flag == 1, payload: payload)
    }
}

/// Writes length-prefixed messages.
enum MessageFramer {
    /// The bytes a message buffer reserves in front of its payload for the prefix.
    static let headroom = 5

    /// A new buffer for a message to be written into, with room for the prefix in front.
    static func bufferWithHeadroom(capacity: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: capacity + Self.headroom)
        buffer.moveWriterIndex(forwardBy: Self.headroom)
        buffer.moveReaderIndex(forwardBy: Self.headroom)
        return buffer
    }

    /// Frames an uncompressed message without copying when it has headroom (see
    /// `bufferWithHeadroom`); `nil` otherwise.
    static func frameInPlace(_ message: ByteBuffer) -> ByteBuffer? {
        guard message.readerIndex >= Self.headroom else { return nil }
        var framed = message
        let length = framed.readableBytes
        framed.moveReaderIndex(to: message.readerIndex - Self.headroom)
        framed.setInteger(UInt8(0), at: framed.readerIndex)
        framed.setInteger(UInt32(length), at: framed.readerIndex + 1)
        return framed
    }

    /// Appends one framed message to `out`.
    static func frame(_ payload: ByteBuffer, compressed: Bool, into out: inout ByteBuffer) {
        out.reserveCapacity(minimumWritableBytes: 5 + payload.readableBytes)
        out.writeInteger(compressed ? 1 : 0, as: UInt8.self)
        out.writeInteger(UInt32(payload.readableBytes))
        out.writeImmutableBuffer(payload)
    }

    /// Appends one framed message, written by `body`, without a copy of the payload.
    static func frame(compressed: Bool, into out: inout ByteBuffer, body: (inout ByteBuffer) -> Void) {
        let prefixIndex = out.writerIndex
        out.writeInteger(compressed ? 1 : 0, as: UInt8.self)
        out.writeInteger(UInt32(0))
        let start = out.writerIndex
        body(&out)
        out.setInteger(UInt32(out.writerIndex - start), at: prefixIndex + 1)
    }
}

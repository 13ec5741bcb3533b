import NIOCore

/// The request messages of a streaming call, serialized. Iterate once.
///
/// Throws `RPCError` (`cancelled` when the client resets the stream, `resourceExhausted` for
/// an oversized message, `internal` for a malformed frame).
public struct RawRequestStream: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    let call: ServerCall

    /// An iterator over the messages.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: ServerCall

        /// The next message, or `nil` when the client has finished sending.
        public mutating func next() async throws -> ByteBuffer? {
            try await self.call.nextMessage()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(call: self.call)
    }
}

/// Writes serialized response messages of a streaming call; each `write` suspends while the
/// client is not reading (HTTP/2 flow control), so memory stays bounded.
public struct RawResponseWriter: Sendable {
    let call: ServerCall

    /// Sends one message; compressed when the call's response compression is on and
    /// `compress` is true. Throws `RPCError(.cancelled)` once the call has ended.
    public func write(_ message: ByteBuffer, compress: Bool = true) async throws {
        try await self.call.write(message, compress: compress)
    }
}

// This file is the only one in RPC that imports CZlib.
import CZlib
import NIOCore

/// A message compression algorithm of `grpc-encoding`.
public enum CompressionAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// No compression.
    case identity
    /// gzip (RFC 1952), through zlib.
    case gzip

    /// The value advertised in `grpc-accept-encoding`.
    static let acceptEncodingHeader = "gzip,identity"

    /// The algorithm named by a `grpc-encoding` value, `nil` when unsupported.
    init?(wireName: some StringProtocol) {
        switch wireName {
        case "identity": self = .identity
        case "gzip": self = .gzip
        default: return nil
        }
    }
}

/// Why a message could not be compressed or decompressed.
enum CompressionError: Error, Hashable, Sendable {
    /// The decompressed message would be larger than the receive limit.
    case tooLarge(limit: Int)
    /// zlib rejected the data (corrupt or truncated gzip).
    case corrupt(code: Int32)
}

/// One zlib stream, for one message; freed when the scoped helper returns.
enum Gzip {
    /// Compresses `input` as one gzip member.
    static func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(CompressionError) -> ByteBuffer {
        var stream = z_stream()
        // windowBits 15 + 16 selects the gzip wrapper.
        let initResult = CZlib_deflateInit2(&stream, Z_DEFAULT_COMPRESSION, 15 + 16)
        switch initResult {
        case Z_OK:
            break  // Ready.
        default:
            throw .corrupt(code: initResult)  // Out of memory or a zlib version mismatch.
        }
        defer { deflateEnd(&stream) }
        var output = allocator.buffer(capacity: Int(deflateBound(&stream, UInt(input.readableBytes))) + 16)
        var result: Int32 = Z_OK
        input.withUnsafeReadableBytes { inputBytes in
            _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { outputBytes in
                stream.next_in = UnsafeMutablePointer(mutating: inputBytes.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.avail_in = uInt(inputBytes.count)
                stream.next_out = outputBytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(outputBytes.count)
                result = deflate(&stream, Z_FINISH)
                return outputBytes.count - Int(stream.avail_out)
            }
        }
        switch result {
        case Z_STREAM_END:
            return output  // deflateBound guarantees one call suffices.
        default:
            throw .corrupt(code: result)  // Z_STREAM_ERROR / Z_BUF_ERROR: not expected with deflateBound.
        }
    }

    /// Decompresses one gzip message, refusing output larger than `limit` bytes.
    static func decompress(_ input: ByteBuffer, limit: Int, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws(CompressionError) -> ByteBuffer {
        var stream = z_stream()
        // windowBits 15 + 32: accept gzip or zlib headers.
        let initResult = CZlib_inflateInit2(&stream, 15 + 32)
        switch initResult {
        case Z_OK:
            break  // Ready.
        default:
            throw .corrupt(code: initResult)  // Out of memory or a zlib version mismatch.
        }
        defer { inflateEnd(&stream) }
        var output = allocator.buffer(capacity: min(limit, max(256, input.readableBytes * 4)))
        var inputCopy = input
        return try inputCopy.withUnsafeMutableReadableBytes { (inputBytes) throws(CompressionError) -> ByteBuffer in
            stream.next_in = inputBytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
            stream.avail_in = uInt(inputBytes.count)
            while true {
                if output.writableBytes == 0 {
                    guard output.capacity < limit + 1 else { throw .tooLarge(limit: limit) }
                    output.reserveCapacity(min(limit + 1, output.capacity * 2))
                }
                var code: Int32 = Z_OK
                _ = output.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { outputBytes in
                    stream.next_out = outputBytes.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    stream.avail_out = uInt(outputBytes.count)
                    code = inflate(&stream, Z_NO_FLUSH)
                    return outputBytes.count - Int(stream.avail_out)
                }
                guard output.readableBytes <= limit else { throw .tooLarge(limit: limit) }
                switch code {
                case Z_STREAM_END:
                    return output  // The whole member was decoded.
                case Z_OK:
                    continue  // Progress; loop for more output space.
                case Z_BUF_ERROR:
                    // No progress: either output is full (grow and retry) or input is truncated.
                    if stream.avail_in == 0 { throw .corrupt(code: code) }
                    continue
                default:
                    throw .corrupt(code: code)  // Z_DATA_ERROR, Z_MEM_ERROR, Z_NEED_DICT.
                }
            }
        }
    }
}

import Model
import ServiceKit

/// Keyset page tokens: the query's fingerprint and the sort key of the last row returned,
/// base64url-encoded. A token from another query (other filters) is INVALID_ARGUMENT.
enum PageToken {
    /// A stable 64-bit FNV-1a hash of the query's defining fields, in hex.
    static func fingerprint(_ parts: [String]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in parts {
            for byte in part.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x100_0000_01b3
            }
            hash ^= 0xFF
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    static func encode(fingerprint: String, keys: [String]) -> String {
        ([fingerprint] + keys).map { Base64Text.encode($0.utf8, urlSafe: true, padded: false) }.joined(separator: ".")
    }

    /// The keys of `token`, nil for an empty token.
    /// - Throws: INVALID_ARGUMENT (INVALID_PAGE_TOKEN) when it is malformed or from another query.
    static func decode(_ token: String, fingerprint: String, keys: Int) throws(ServiceError) -> [String]? {
        if token.isEmpty {
            return nil
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map { Self.unbase64URL($0) }
        guard parts.count == keys + 1, parts.allSatisfy({ $0 != nil }) else {
            throw ServiceError.invalidArgument(
                field: "page_token", reason: "malformed page token", errorReason: "INVALID_PAGE_TOKEN")
        }
        let strings = parts.map { String(decoding: $0 ?? [], as: UTF8.self) }
        guard strings[0] == fingerprint else {
            throw ServiceError.invalidArgument(
                field: "page_token", reason: "the page token belongs to a different query",
                errorReason: "INVALID_PAGE_TOKEN")
        }
        return Array(strings.dropFirst())
    }

    /// A base64url part of a token (the standard alphabet, and padding, are not ours).
    private static func unbase64URL(_ text: Substring) -> [UInt8]? {
        guard !text.utf8.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "=") }) else {
            return nil
        }
        return Base64Text.decode(text)
    }
}

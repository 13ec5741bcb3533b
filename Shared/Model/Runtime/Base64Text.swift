import ExtrasBase64

/// Base64 for the places the suite writes binary as text (gRPC `-bin` metadata, proto3 JSON
/// `bytes`, page tokens), on swift-extras-base64.
public enum Base64Text {
    /// `bytes` in standard base64 (`+/`) or, with `urlSafe`, base64url (`-_`); with `padded`,
    /// `=` fills the last group of four.
    public static func encode(_ bytes: some Collection<UInt8>, urlSafe: Bool = false, padded: Bool = true) -> String {
        var options: Base64.EncodingOptions = []
        if urlSafe { options.insert(.base64UrlAlphabet) }
        if !padded { options.insert(.omitPaddingCharacter) }
        return Base64.encodeToString(bytes: bytes, options: options)
    }

    /// The bytes of `text` in either alphabet (standard or base64url, not mixed), padded or
    /// not; nil when it is not base64.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var characters = Array(text.utf8)
        while characters.last == UInt8(ascii: "=") {
            characters.removeLast()
        }
        var options: Base64.DecodingOptions = [.omitPaddingCharacter]
        if characters.contains(UInt8(ascii: "-")) || characters.contains(UInt8(ascii: "_")) {
            options.insert(.base64UrlAlphabet)
        }
        return try? Base64.decode(bytes: characters, options: options)
    }
}

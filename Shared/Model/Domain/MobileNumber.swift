/// A mainland China mobile number, validated and normalised to its 11 digits.
///
/// Accepts the number as people write it: spaces and hyphens anywhere are dropped, and an
/// international prefix `+86`, `0086` or `86` before the 11 digits is removed. The 11 digits
/// must begin with `1` and a second digit from 3 to 9 (the mobile number blocks); which
/// carrier holds a block is not checked, since blocks are added every few years.
public struct MobileNumber: Sendable, Hashable, CustomStringConvertible {
    /// The 11 digits, e.g. `13812345678`.
    public let normalized: String

    /// Validates `text` as a mainland mobile number.
    /// - Throws: `DomainRuleError.unsupportedCountryCode` for a `+` or `00` prefix other than
    ///   `+86`/`0086`; `.invalidCharacter` (position in `text`) for anything but digits, spaces
    ///   and hyphens; `.wrongLength(expected: 11, …)` when the digits after the prefix are not
    ///   11; `.invalidMobilePrefix` when they do not begin with 13–19.
    public init(validating text: String) throws(DomainRuleError) {
        // The usual case, 11 digits and nothing else, from the UTF-8 bytes; anything else
        // takes the character-by-character path, which strips, and names what is wrong.
        let plain = text.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.count == 11 && bytes[0] == 0x31 && bytes[1] >= 0x33 && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
        if plain == true {
            self.normalized = text
            return
        }
        var kept: [(position: Int, character: Character)] = []
        for (offset, character) in text.enumerated() where character != " " && character != "-" {
            kept.append((offset + 1, character))
        }
        let leading = String(kept.prefix(4).map(\.character))

        var national = kept[...]
        if leading.hasPrefix("+") {
            guard leading.hasPrefix("+86") else {
                throw .unsupportedCountryCode
            }
            national = kept.dropFirst(3)
        } else if leading.hasPrefix("00") {
            guard leading == "0086" else {
                throw .unsupportedCountryCode
            }
            national = kept.dropFirst(4)
        } else if leading.hasPrefix("86"), kept.count == 13 {
            national = kept.dropFirst(2)
        }

        var digits = ""
        for (position, character) in national {
            guard DomainASCII.digitValue(character) != nil else {
                throw .invalidCharacter(position: position, character: character, allowed: .phoneCharacter)
            }
            digits.append(character)
        }
        guard digits.count == 11 else {
            throw .wrongLength(expected: 11, actual: digits.count)
        }
        let prefix = String(digits.prefix(2))
        guard prefix.first == "1", let second = prefix.last.flatMap(DomainASCII.digitValue), second >= 3
        else {
            throw .invalidMobilePrefix(prefix)
        }
        self.normalized = digits
    }

    /// The number with its middle four digits hidden, e.g. `138****5678`, for logs and screens
    /// that must not show personal data.
    public var masked: String {
        String(self.normalized.prefix(3)) + "****" + String(self.normalized.suffix(4))
    }

    /// The number in E.164 form, e.g. `+8613812345678`.
    public var e164: String {
        "+86" + self.normalized
    }

    /// The 11 digits. Personal data: log ``masked`` instead.
    public var description: String {
        self.normalized
    }
}

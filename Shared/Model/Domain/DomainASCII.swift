/// Character tests shared by the domain rules. The rules accept ASCII only: a full-width
/// digit or a combining mark is an invalid character, never silently folded.
enum DomainASCII {
    /// The value of an ASCII digit, or nil.
    static func digitValue(_ character: Character) -> Int? {
        guard let ascii = Self.scalarValue(character), ascii >= 0x30, ascii <= 0x39 else {
            return nil
        }
        return Int(ascii - 0x30)
    }

    /// An ASCII letter in upper case; any other character unchanged.
    static func uppercased(_ character: Character) -> Character {
        guard let ascii = Self.scalarValue(character), ascii >= 0x61, ascii <= 0x7A else {
            return character
        }
        return Character(Unicode.Scalar(ascii - 0x20))
    }

    /// The ASCII value of a character made of exactly one ASCII scalar. Unlike
    /// `Character.asciiValue` this refuses "\r\n", which is one character of two scalars.
    static func scalarValue(_ character: Character) -> UInt8? {
        let scalars = character.unicodeScalars
        guard scalars.count == 1, let scalar = scalars.first, scalar.isASCII else {
            return nil
        }
        return UInt8(scalar.value)
    }

    /// The digit character for a value 0–9.
    static func digitCharacter(_ value: Int) -> Character {
        Character(Unicode.Scalar(UInt8(0x30 + value)))
    }
}

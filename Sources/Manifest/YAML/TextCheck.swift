import Model

/// Checks raw bytes before libyaml sees them: UTF-8 only, no byte-order mark,
/// no NUL or control characters. Refused, never replaced by U+FFFD.
package enum TextCheck {
    /// Returns the first problem with its 1-based line and column, or nil.
    static func firstProblem(in bytes: UnsafeBufferPointer<UInt8>) -> (line: Int, column: Int, message: String)? {
        var line = 1
        var column = 1
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte < 0x80 {
                if byte == 0x0A {
                    line += 1
                    column = 1
                } else {
                    if byte == 0x0D, index + 1 < count, bytes[index + 1] != 0x0A {
                        return (line, column, "carriage return without a line feed (use LF or CRLF line endings)")
                    }
                    if byte < 0x20 && byte != 0x09 && byte != 0x0D {
                        return (line, column, byte == 0 ? "NUL byte in file" : "control character 0x\(hex(byte)) in file")
                    }
                    if byte == 0x7F { return (line, column, "control character 0x7f in file") }
                    column += 1
                }
                index += 1
                continue
            }
            // Multi-byte sequence: decode and validate (no overlongs, no surrogates).
            let length: Int
            var scalar: UInt32
            switch byte {
            case 0xC2...0xDF:
                length = 2
                scalar = UInt32(byte & 0x1F)
            case 0xE0...0xEF:
                length = 3
                scalar = UInt32(byte & 0x0F)
            case 0xF0...0xF4:
                length = 4
                scalar = UInt32(byte & 0x07)
            default:
                return (line, column, "invalid UTF-8 byte 0x\(hex(byte))")
            }
            guard index + length <= count else {
                return (line, column, "truncated UTF-8 sequence")
            }
            for offset in 1..<length {
                let next = bytes[index + offset]
                guard next & 0xC0 == 0x80 else {
                    return (line, column, "invalid UTF-8 sequence")
                }
                scalar = scalar << 6 | UInt32(next & 0x3F)
            }
            let minimum: UInt32 = length == 2 ? 0x80 : (length == 3 ? 0x800 : 0x10000)
            if scalar < minimum || scalar > 0x10FFFF || (0xD800...0xDFFF).contains(scalar) {
                return (line, column, "invalid UTF-8 sequence")
            }
            if scalar == 0xFEFF {
                return (line, column, "byte-order mark in file (save it as UTF-8 without BOM)")
            }
            if (0x80...0x9F).contains(scalar) || scalar == 0x2028 || scalar == 0x2029 {
                return (line, column, "control character U+\(String(scalar, radix: 16, uppercase: true)) in file")
            }
            index += length
            column += 1
        }
        return nil
    }

    /// A character no decoded value may hold: NUL, C0 controls other than
    /// tab and newline, DEL, C1 controls, line/paragraph separators, BOM.
    static func forbiddenScalar(in text: String) -> String? {
        for scalar in text.unicodeScalars {
            let value = scalar.value
            if value == 0 { return "a NUL character" }
            if (value < 0x20 && value != 0x09 && value != 0x0A) || value == 0x7F || (0x80...0x9F).contains(value)
                || value == 0x2028 || value == 0x2029 || value == 0xFEFF
            {
                return "control character U+\(String(value, radix: 16, uppercase: true))"
            }
        }
        return nil
    }

    /// A control character as berth never prints it raw: C0 (U+0000-U+001F),
    /// DEL, C1 (U+0080-U+009F), and the line and paragraph separators that some
    /// terminals and editors break lines at.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
    }

    /// A character that is not shown but changes how text around it reads:
    /// every format character (Unicode general category Cf): the bidi
    /// controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) that
    /// can make `web1` print as a different name, zero-width spaces and
    /// joiners (U+200B-U+200D, U+2060), the BOM (U+FEFF), the soft hyphen and
    /// tag characters.
    static func isInvisibleFormat(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value >= 0xAD && scalar.properties.generalCategory == .format
    }

    /// What a diagnostic never prints raw: controls and invisible format characters.
    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        isControl(scalar) || isInvisibleFormat(scalar)
    }

    /// `text` with every control and invisible format character written as a
    /// Swift escape (`\n`, `\t`, `\r`, `\0`, `\u{1B}`, `\u{202E}`), so a value
    /// quoted in a diagnostic can neither break its line, drive the terminal
    /// nor reorder or hide what is printed around it.
    package static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\0": result.append(contentsOf: #"\0"#.unicodeScalars)
            case "\t": result.append(contentsOf: #"\t"#.unicodeScalars)
            case "\n": result.append(contentsOf: #"\n"#.unicodeScalars)
            case "\r": result.append(contentsOf: #"\r"#.unicodeScalars)
            case _ where needsEscape(scalar):
                result.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }
}

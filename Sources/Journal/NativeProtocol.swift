/// journald's native protocol (systemd.journal-fields(7), "Native Journal
/// Protocol"): one datagram per entry, each field either `NAME=value\n` or,
/// when the value holds a newline, `NAME\n` + little-endian 64-bit length +
/// the bytes + `\n`. Encoding is pure; sending lives with the socket.
public enum NativeProtocol {
    public struct InvalidFieldName: Error, Equatable, CustomStringConvertible {
        public var name: String
        public var description: String {
            "invalid journal field name '\(name)' (1-64 of A-Z, 0-9 and '_', not starting with '_' or a digit)"
        }
    }

    /// A field name journald accepts from a client: 1-64 bytes of A-Z, 0-9
    /// and '_', not starting with a digit, and not starting with '_' (those are
    /// the trusted fields journald adds itself).
    public static func isValidFieldName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64, let first = bytes.first else { return false }
        if first == UInt8(ascii: "_") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) { return false }
        return bytes.allSatisfy {
            ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: "_")
        }
    }

    /// Encodes one entry. Fields keep their order; a name may repeat.
    public static func encode(_ fields: [(name: String, value: String)]) throws(InvalidFieldName) -> [UInt8] {
        var datagram: [UInt8] = []
        datagram.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 10 })
        for field in fields {
            guard isValidFieldName(field.name) else { throw InvalidFieldName(name: field.name) }
            let value = Array(field.value.utf8)
            datagram.append(contentsOf: field.name.utf8)
            if value.contains(UInt8(ascii: "\n")) {
                datagram.append(UInt8(ascii: "\n"))
                var length = UInt64(value.count).littleEndian
                withUnsafeBytes(of: &length) { datagram.append(contentsOf: $0) }
                datagram.append(contentsOf: value)
            } else {
                datagram.append(UInt8(ascii: "="))
                datagram.append(contentsOf: value)
            }
            datagram.append(UInt8(ascii: "\n"))
        }
        return datagram
    }

    /// syslog priorities, as journald's PRIORITY field carries them.
    public enum Priority: Int, Sendable, CaseIterable {
        case emergency = 0, alert, critical, error, warning, notice, info, debug
    }
}

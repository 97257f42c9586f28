// Value types encode as the text a manifest would carry, so state files and
// `--output json` read like the manifests.

/// A value with one canonical text form that parses back to the same value.
public protocol TextCodable: Codable, CustomStringConvertible {
    init(text: String) throws(ValueError)
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do { try self.init(text: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension CPUQuantity: TextCodable {
    public init(text: String) throws(ValueError) { try self.init(parsing: text) }
}

extension CPUSet: TextCodable {
    public init(text: String) throws(ValueError) { try self.init(parsing: text) }
}

extension Interval: TextCodable {
    public init(text: String) throws(ValueError) { try self.init(parsing: text) }
}

extension IPAddress: TextCodable {
    public init(text: String) throws(ValueError) { try self.init(parsing: text) }
}

extension CIDR: TextCodable {
    public init(text: String) throws(ValueError) { try self.init(parsing: text, requirePrefix: false) }
}

/// Sizes encode as a plain byte count (exact, and what the kernel files hold).
extension ByteSize: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let bytes = try? container.decode(UInt64.self) {
            self.init(bytes: bytes)
            return
        }
        let text = try container.decode(String.self)
        do { try self.init(parsing: text) } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.message)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes)
    }
}

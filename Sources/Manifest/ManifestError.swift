import Model

/// One problem in a manifest, with where it is and which field it concerns.
///
/// Rendered as `FILE:LINE:COL: error: FIELD.PATH: message (hint)`, on one
/// line: control characters, bidi controls and other invisible format
/// characters from the user's text (a key, a value, a file name) are written
/// as escapes there, never raw.
public struct ManifestError: Error, Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public var location: SourceLocation
    /// Empty when the error is about the file or the YAML itself.
    public var fieldPath: String
    public var message: String
    public var hint: String?

    public init(location: SourceLocation, fieldPath: String, message: String, hint: String? = nil) {
        self.location = location
        self.fieldPath = fieldPath
        self.message = message
        self.hint = hint
    }

    public init(location: SourceLocation, field: FieldPath, _ error: ValueError) {
        self.init(location: location, fieldPath: field.description, message: error.message, hint: error.hint)
    }

    public static func < (lhs: ManifestError, rhs: ManifestError) -> Bool {
        (lhs.location, lhs.fieldPath, lhs.message) < (rhs.location, rhs.fieldPath, rhs.message)
    }

    public var description: String {
        var text = "\(location): error: "
        if !fieldPath.isEmpty { text += "\(fieldPath): " }
        text += message
        if let hint { text += " (\(hint))" }
        return ManifestError.bounded(TextCheck.escaped(text))
    }

    /// The longest diagnostic line printed whole. A longer one (a 100 kB
    /// value quoted in it) keeps its start, with the position and field, and
    /// its end, with the hint, and says how much it left out: one bad value
    /// cannot flood a terminal, a CI log or the journal.
    static let maxLineLength = 1024

    static func bounded(_ line: String) -> String {
        let scalars = line.unicodeScalars
        guard scalars.count > maxLineLength else { return line }
        let head = String.UnicodeScalarView(scalars.prefix(maxLineLength * 3 / 4))
        let tail = String.UnicodeScalarView(scalars.suffix(maxLineLength / 8))
        return "\(String(head))…[\(scalars.count - head.count - tail.count) characters not shown]…\(String(tail))"
    }

    enum CodingKeys: String, CodingKey {
        case file, line, column, field, message, hint
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        location = SourceLocation(
            file: try container.decode(String.self, forKey: .file),
            line: try container.decode(Int.self, forKey: .line),
            column: try container.decode(Int.self, forKey: .column))
        fieldPath = try container.decode(String.self, forKey: .field)
        message = try container.decode(String.self, forKey: .message)
        hint = try container.decodeIfPresent(String.self, forKey: .hint)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(location.file, forKey: .file)
        try container.encode(location.line, forKey: .line)
        try container.encode(location.column, forKey: .column)
        try container.encode(fieldPath, forKey: .field)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(hint, forKey: .hint)
    }
}

/// Every error found in a set of manifests, sorted by position.
public struct ManifestErrors: Error, Sendable, CustomStringConvertible {
    public var errors: [ManifestError]
    public init(_ errors: [ManifestError]) { self.errors = errors.sorted() }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Why a textual value could not be read, with an optional hint for the user.
///
/// Manifest turns it into a `ManifestError` that carries the source location
/// and the field path.
public struct ValueError: Error, Equatable, Sendable {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

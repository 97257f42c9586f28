import Model

/// Where a resolved container's field was written: in its own document, or
/// in the profile it was merged from. For errors found after resolving
/// (checks on the host's files), so they point at the line as validate's do.
public struct FieldLocator: Sendable {
    var containers: [String: ManifestDocument] = [:]
    var profiles: [String: ManifestDocument] = [:]
    var networks: [String: ManifestDocument] = [:]

    public init(documents: [ManifestDocument]) {
        for document in documents {
            switch document.kind {
            case .container: containers[document.metadata.name] = containers[document.metadata.name] ?? document
            case .profile: profiles[document.metadata.name] = profiles[document.metadata.name] ?? document
            case .network: networks[document.metadata.name] = networks[document.metadata.name] ?? document
            }
        }
    }

    /// The position of `path` in container `name`'s manifest: its own
    /// document when it writes the field, else the last of its profiles that
    /// does (the one whose value won), else the closest enclosing field of its
    /// own document. Nil for a container no document declares.
    /// The position of `path` in network `name`'s manifest (or of its
    /// closest enclosing field). Nil for a network no document declares.
    public func location(network name: String, _ path: FieldPath) -> SourceLocation? {
        networks[name]?.location(of: path)
    }

    public func location(container name: String, _ path: FieldPath) -> SourceLocation? {
        guard let document = containers[name] else { return nil }
        if let node = document.root.lookup(path) { return node.location }
        guard case .container(let spec) = document.object else { return document.location(of: path) }
        let applied = ManifestSet.appliedProfiles(spec.profiles, hostDefault: profiles[Defaults.profileName] != nil)
        for profile in applied.reversed() {
            if let node = profiles[profile.name]?.root.lookup(path) { return node.location }
        }
        return document.location(of: path)
    }
}

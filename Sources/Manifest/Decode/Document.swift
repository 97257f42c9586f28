import Model

/// One decoded manifest document, still carrying its node tree so that
/// checks across documents can point at the line that wrote a value.
public struct ManifestDocument: Sendable {
    public enum Object: Sendable {
        case container(ContainerSpec)
        case network(NetworkSpec)
        case profile(ContainerSpec)
    }

    public var kind: ObjectKind
    public var metadata: ObjectMeta
    public var object: Object
    public var root: Node

    public var location: SourceLocation { root.location }

    /// Where a field was written, falling back to the closest enclosing node.
    public func location(of path: FieldPath) -> SourceLocation {
        var components = path.components
        while true {
            if let node = root.lookup(FieldPath(components)) { return node.location }
            if components.isEmpty { return root.location }
            components.removeLast()
        }
    }
}

extension Reader {
    static let topFields = ["apiVersion", "kind", "metadata", "spec"]
    static let apiVersion = "berth/v1"

    /// Decodes one document; nil when it has errors (recorded in `errors`).
    mutating func document(_ root: Node) -> ManifestDocument? {
        let errorsBefore = errorMark
        guard let top = mapping(root, .root, fields: Reader.topFields) else { return nil }

        if let node = top.required("apiVersion", &self), let version = string(node, .root / "apiVersion") {
            if version != Reader.apiVersion {
                error(node, .root / "apiVersion", "unsupported apiVersion '\(version)'", hint: "write '\(Reader.apiVersion)'")
            }
        }
        var kind: ObjectKind?
        if let node = top.required("kind", &self) {
            kind = enumeration(node, .root / "kind", ObjectKind.self)
        }
        let metadata = top.required("metadata", &self).flatMap { objectMeta($0, .root / "metadata") }
        guard let kind, let specNode = top.required("spec", &self) else { return nil }

        let object: ManifestDocument.Object?
        switch kind {
        case .container:
            object = containerSpec(specNode, .root / "spec", isProfile: false).map { .container($0) }
        case .profile:
            object = containerSpec(specNode, .root / "spec", isProfile: true).map { .profile($0) }
        case .network:
            object = networkSpec(specNode, .root / "spec").map { .network($0) }
        }
        guard errorMark == errorsBefore, let metadata, let object else { return nil }
        return ManifestDocument(kind: kind, metadata: metadata, object: object, root: root)
    }

    mutating func objectMeta(_ node: Node, _ path: FieldPath) -> ObjectMeta? {
        guard let fields = mapping(node, path, fields: ["name", "labels", "annotations"]) else { return nil }
        let name = fields.required("name", &self).flatMap { checked($0, path / "name", Names.checkDNSLabel) }
        let labels = fields.read("labels", &self) { reader, node, path in
            reader.stringMap(node, path, checkKey: Names.checkLabelKey, checkValue: Names.checkLabelValue)
        }
        let annotations = fields.read("annotations", &self) { reader, node, path in
            reader.stringMap(node, path, checkKey: Names.checkLabelKey) { (value: String) throws(ValueError) in
                if value.utf8.count > 256 << 10 { throw ValueError("annotation value is over 256 KiB") }
            }
        }
        guard let name else { return nil }
        return ObjectMeta(name: name, labels: labels ?? [:], annotations: annotations ?? [:])
    }

    mutating func placement(_ node: Node, _ path: FieldPath) -> Placement? {
        guard let fields = mapping(node, path, fields: ["hostnames", "hostLabels"]) else { return nil }
        var placement = Placement()
        placement.hostnames = fields.read("hostnames", &self) { reader, node, path in
            reader.list(node, path, minCount: 1) { reader, node, path in reader.checked(node, path, Names.checkHostname) }
        }
        placement.hostLabels = fields.read("hostLabels", &self) { reader, node, path in
            reader.stringMap(node, path, checkKey: Names.checkLabelKey, checkValue: Names.checkLabelValue)
        }
        return placement
    }

    mutating func objectPolicy(_ node: Node, _ path: FieldPath) -> ObjectPolicy? {
        guard let fields = mapping(node, path, fields: ["drift"]) else { return nil }
        return ObjectPolicy(drift: fields.read("drift", &self) { $0.enumeration($1, $2, DriftPolicy.self) })
    }
}

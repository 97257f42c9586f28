import CLibraries
import Model

/// Composes libyaml's event stream into `Node` trees, one per document.
///
/// Iterative (an explicit stack, bounded depth): no input can overflow the
/// stack. Aliases share the anchored node's storage; each one is charged the
/// anchored subtree's weight against `maxNodesPerDocument`, so a
/// billion-laughs file is refused after a handful of events.
struct Composer {
    let file: String
    let limits: ParseLimits
    private(set) var errors: [ManifestError] = []

    init(file: String, limits: ParseLimits) {
        self.file = file
        self.limits = limits
    }

    struct Document {
        var root: Node
    }

    private struct Abort: Error {}

    /// An open collection. Mutated in place at the top of the stack: the
    /// stack's last element is never copied out and back, which made every
    /// append copy the whole collection (a 50,000-key mapping took minutes).
    private struct Frame {
        enum Kind { case mapping, sequence }
        var kind: Kind
        var start: SourceLocation
        var anchor: String?
        var entries: [Node.Entry] = []
        var items: [Node] = []
        var pendingKey: Node?
        /// Each key's first index in `entries`, for duplicate-key errors in
        /// O(1); built only once the mapping outgrows a scan of its entries,
        /// so the many small mappings of a manifest allocate no table.
        var keyIndex: [String: Int] = [:]
        /// Nodes in the collection so far, its own included.
        var weight = 1

        init(_ kind: Kind, start: SourceLocation, anchor: String?) {
            self.kind = kind
            self.start = start
            self.anchor = anchor
        }

        /// Where key `text` was first written in this mapping, if it was;
        /// else records that it is written next (at `entries.count`).
        mutating func firstDefinition(of text: String) -> SourceLocation? {
            let scanLimit = 16
            if entries.count < scanLimit {
                return entries.first { $0.key.scalarText == text }?.key.location
            }
            if keyIndex.isEmpty {
                keyIndex.reserveCapacity(2 * scanLimit)
                for (index, entry) in entries.enumerated() {
                    if let key = entry.key.scalarText, keyIndex[key] == nil { keyIndex[key] = index }
                }
            }
            if let first = keyIndex[text] { return entries[first].key.location }
            keyIndex[text] = entries.count
            return nil
        }
    }

    /// Composes every document of `bytes`. Errors land in `errors`; documents
    /// composed before a fatal syntax error are still returned.
    mutating func compose(_ bytes: UnsafeBufferPointer<UInt8>) -> [Document] {
        if bytes.count > limits.maxFileBytes {
            fail(line: 1, column: 1, "file is \(bytes.count) bytes, over the limit of \(limits.maxFileBytes)")
            return []
        }
        if let problem = TextCheck.firstProblem(in: bytes) {
            fail(line: problem.line, column: problem.column, problem.message)
            return []
        }
        guard let base = bytes.baseAddress else { return [] }

        var parser = yaml_parser_t()
        guard berth_yaml_parser_initialize(&parser) == 1 else {
            fail(line: 1, column: 1, "libyaml could not allocate a parser")
            return []
        }
        defer { berth_yaml_parser_delete(&parser) }
        berth_yaml_parser_set_input_string(&parser, base, bytes.count)
        berth_yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)

        var documents: [Document] = []
        var stack: [Frame] = []
        var anchors: [String: Node] = [:]
        var documentWeight = 0
        // Empty documents count too: a file of four million `---` is refused.
        var documentsStarted = 0
        var documentStartIndex = 0
        var root: Node?

        do {
            while true {
                var event = yaml_event_t()
                guard berth_yaml_parser_parse(&parser, &event) == 1 else {
                    reportSyntaxError(parser)
                    return documents
                }
                defer { berth_yaml_event_delete(&event) }
                let location = self.location(event.start_mark)

                switch event.type {
                case YAML_STREAM_START_EVENT:
                    continue
                case YAML_STREAM_END_EVENT:
                    return documents
                case YAML_DOCUMENT_START_EVENT:
                    documentsStarted += 1
                    if documentsStarted > limits.maxDocumentsPerFile {
                        fail(at: location, "more than \(limits.maxDocumentsPerFile) documents in one file")
                        return documents
                    }
                    anchors.removeAll(keepingCapacity: true)
                    documentWeight = 0
                    documentStartIndex = event.start_mark.index
                    root = nil
                case YAML_DOCUMENT_END_EVENT:
                    let size = event.end_mark.index - documentStartIndex
                    if size > limits.maxDocumentBytes {
                        fail(at: location, "document is \(size) bytes, over the limit of \(limits.maxDocumentBytes)")
                    } else if let root, !Composer.isNull(root) {
                        documents.append(Document(root: root))
                    }
                case YAML_ALIAS_EVENT:
                    let name = Composer.string(event.data.alias.anchor) ?? ""
                    guard var target = anchors[name] else {
                        fail(at: location, "unknown alias '*\(name)'")
                        throw Abort()
                    }
                    try charge(target.weight, total: &documentWeight, at: location)
                    target.location = location
                    try attach(target, to: &stack, root: &root)
                case YAML_SCALAR_EVENT:
                    let scalar = event.data.scalar
                    let text = Composer.text(scalar.value, length: scalar.length)
                    if let problem = TextCheck.forbiddenScalar(in: text) {
                        // Escapes in double-quoted scalars ("\0", "\e") bypass the raw-byte check.
                        fail(at: location, "value contains \(problem)")
                    }
                    let tag = Composer.string(scalar.tag)
                    var forcedString = false
                    if let tag {
                        if tag == "tag:yaml.org,2002:str" || tag == "!" {
                            forcedString = true
                        } else {
                            fail(at: location, "explicit tag '\(tag)' is not supported")
                        }
                    }
                    let node = Node(
                        .scalar(Scalar(text: text, isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE, forcedString: forcedString)),
                        at: location)
                    try charge(1, total: &documentWeight, at: location)
                    if let anchor = Composer.string(scalar.anchor) { anchors[anchor] = node }
                    try attach(node, to: &stack, root: &root)
                case YAML_SEQUENCE_START_EVENT:
                    try checkCollectionTag(Composer.string(event.data.sequence_start.tag), expected: "tag:yaml.org,2002:seq", at: location)
                    try push(Frame(.sequence, start: location, anchor: Composer.string(event.data.sequence_start.anchor)), onto: &stack, at: location)
                    try charge(1, total: &documentWeight, at: location)
                case YAML_MAPPING_START_EVENT:
                    try checkCollectionTag(Composer.string(event.data.mapping_start.tag), expected: "tag:yaml.org,2002:map", at: location)
                    try push(Frame(.mapping, start: location, anchor: Composer.string(event.data.mapping_start.anchor)), onto: &stack, at: location)
                    try charge(1, total: &documentWeight, at: location)
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let frame = stack.popLast() else { continue }
                    let value: Node.Value
                    switch frame.kind {
                    case .sequence: value = .sequence(frame.items)
                    case .mapping: value = .mapping(frame.entries)
                    }
                    let node = Node(value, at: frame.start, weight: frame.weight)
                    if let anchor = frame.anchor { anchors[anchor] = node }
                    try attach(node, to: &stack, root: &root)
                default:
                    continue
                }
            }
        } catch {
            return documents
        }
    }

    // MARK: - Building

    private mutating func push(_ frame: Frame, onto stack: inout [Frame], at location: SourceLocation) throws(Abort) {
        if stack.count >= limits.maxDepth {
            fail(at: location, "nesting deeper than \(limits.maxDepth) levels")
            throw Abort()
        }
        stack.append(frame)
    }

    private mutating func charge(_ weight: Int, total: inout Int, at location: SourceLocation) throws(Abort) {
        total += weight
        if total > limits.maxNodesPerDocument {
            fail(
                at: location,
                "document expands to more than \(limits.maxNodesPerDocument) nodes (aliases included); refusing it as a possible YAML bomb")
            throw Abort()
        }
    }

    private mutating func checkCollectionTag(_ tag: String?, expected: String, at location: SourceLocation) throws(Abort) {
        if let tag, tag != expected, tag != "!" {
            fail(at: location, "explicit tag '\(tag)' is not supported")
        }
    }

    private mutating func attach(_ node: Node, to stack: inout [Frame], root: inout Node?) throws(Abort) {
        let top = stack.count - 1
        guard top >= 0 else {
            root = node
            return
        }
        // Every change below goes through `stack[top]`, in place.
        stack[top].weight += node.weight
        switch stack[top].kind {
        case .sequence:
            stack[top].items.append(node)
        case .mapping:
            if let key = stack[top].pendingKey {
                stack[top].entries.append(Node.Entry(key: key, value: node))
                stack[top].pendingKey = nil
                return
            }
            // `node` is a key.
            stack[top].pendingKey = node
            guard case .scalar(let scalar) = node.value else {
                fail(at: node.location, "mapping keys must be strings, not \(node.kindDescription)")
                return
            }
            if case .string = scalar.resolved {
            } else {
                fail(at: node.location, "mapping key '\(scalar.text)' is \(scalar.resolved.typeName), not a string", hint: "quote it")
            }
            if scalar.isPlain, scalar.text == "<<" {
                fail(at: node.location, "merge keys ('<<') are not supported", hint: "repeat the fields or use a Profile")
            }
            // Later duplicates name the first position too.
            if let first = stack[top].firstDefinition(of: scalar.text) {
                fail(
                    at: node.location,
                    "duplicate key '\(scalar.text)' (first defined at \(first.line):\(first.column))")
            }
        }
    }

    // MARK: - Errors and conversions

    private mutating func reportSyntaxError(_ parser: yaml_parser_t) {
        let problem = Composer.string(parser.problem) ?? "invalid YAML"
        var message = problem
        if let context = Composer.string(parser.context) {
            message = "\(problem) \(context) (started at \(parser.context_mark.line + 1):\(parser.context_mark.column + 1))"
        }
        if problem.contains("tab") || problem.contains("cannot start any token") {
            fail(at: location(parser.problem_mark), message, hint: "indent with spaces, not tabs")
        } else {
            fail(at: location(parser.problem_mark), message)
        }
    }

    private mutating func fail(line: Int, column: Int, _ message: String) {
        errors.append(ManifestError(location: SourceLocation(file: file, line: line, column: column), fieldPath: "", message: message))
    }

    private mutating func fail(at location: SourceLocation, _ message: String, hint: String? = nil) {
        errors.append(ManifestError(location: location, fieldPath: "", message: message, hint: hint))
    }

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: file, line: mark.line + 1, column: mark.column + 1)
    }

    private static func isNull(_ node: Node) -> Bool {
        if case .scalar(let scalar) = node.value, scalar.resolved == .null { return true }
        return false
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: pointer)
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String {
        guard let pointer else { return "" }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }
}

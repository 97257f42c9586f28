/// Caps that keep hostile or broken input from exhausting memory, stack or time.
public struct ParseLimits: Sendable {
    public var maxFileBytes: Int = 16 << 20
    public var maxTotalBytes: Int = 64 << 20
    public var maxFiles: Int = 10_000
    public var maxDocumentBytes: Int = 1 << 20
    public var maxDocumentsPerFile: Int = 50_000
    public var maxDepth: Int = 64
    /// Nodes per document, counting every alias expansion: a billion-laughs
    /// file hits this after a few thousand events.
    public var maxNodesPerDocument: Int = 100_000

    public init() {}

    public static let `default` = ParseLimits()
}

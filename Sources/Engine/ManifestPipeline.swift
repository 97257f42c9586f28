import Manifest
import Model

/// Load, decode and resolve: the front half of validate, plan, apply and drift.
public enum ManifestPipeline {
    public struct Outcome {
        public var files: [String]
        public var documentCount: Int
        public var errors: [ManifestError]
        /// Nil when a document failed: nothing is planned from a partial set.
        public var desired: DesiredHost?
    }

    public static func load(paths: [String], host: HostFacts) -> Outcome {
        let loaded = ManifestLoader().load(paths: paths)
        guard loaded.errors.isEmpty else {
            return Outcome(files: loaded.files, documentCount: loaded.documents.count, errors: loaded.errors, desired: nil)
        }
        let (desired, errors) = ManifestSet(documents: loaded.documents).resolve(for: host)
        return Outcome(
            files: loaded.files, documentCount: loaded.documents.count, errors: errors,
            desired: errors.isEmpty ? desired.defaulted() : nil)
    }
}

import Foundation
import Model

@testable import Manifest

/// Decodes YAML text as if it were the file `name`.
func decode(_ yaml: String, file: String = "test.yaml", limits: ParseLimits = .default) -> (
    documents: [ManifestDocument], errors: [ManifestError]
) {
    ManifestLoader.decode(Data(yaml.utf8), file: file, limits: limits)
}

/// Decodes and resolves for a host named `host`: every error a user would see.
func check(_ yaml: String, host: HostFacts = HostFacts(name: "node1")) -> [ManifestError] {
    let decoded = decode(yaml)
    if !decoded.errors.isEmpty { return decoded.errors }
    return ManifestSet(documents: decoded.documents).resolve(for: host).errors
}

/// The rendered diagnostics, one per line.
func rendered(_ errors: [ManifestError]) -> [String] { errors.map(\.description) }

let validContainer = """
    apiVersion: berth/v1
    kind: Container
    metadata:
      name: web1
    spec:
      rootfs: {template: busybox}

    """

/// The repository's root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

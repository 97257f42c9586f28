// One input of the manifest fuzz target, shared by the target
// (ManifestFuzz.swift) and the lane-1 replay of its corpus and regressions
// (Tests/ManifestTests/FuzzRegressionTests.swift, through a symlink).
import FoundationEssentials
import Manifest
import Model

enum ManifestFuzzInput {
    static let host = HostFacts(name: "node1", labels: ["role": "web"])

    /// Decodes, resolves and defaults `data` as `berth validate` does, and
    /// returns what broke a rule: a diagnostic that is not one escaped line
    /// (a control, bidi or other invisible format character in it).
    static func problems(_ data: Data) -> [String] {
        let decoded = ManifestLoader.decode(data, file: "fuzz.yaml")
        var errors = decoded.errors
        if errors.isEmpty {
            let (desired, resolveErrors) = ManifestSet(documents: decoded.documents).resolve(for: host)
            errors = resolveErrors
            if errors.isEmpty {
                let locator = FieldLocator(documents: decoded.documents)
                for container in desired.containers {
                    _ = locator.location(container: container.metadata.name, .root / "spec" / "init" / "command" / 0)
                }
            }
        }
        return errors.map(\.description).filter { !isOneEscapedLine($0) }.map { "not one escaped line: \($0.debugDescription)" }
    }

    static func isOneEscapedLine(_ text: String) -> Bool {
        !text.unicodeScalars.contains { scalar in
            scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
                || scalar.properties.generalCategory == .format
        }
    }
}

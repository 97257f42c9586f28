import Manifest
import Model
import Runtime

/// Load, decode and resolve: the front half of validate, plan, apply and drift.
public enum ManifestPipeline {
    public struct Outcome {
        public var files: [String]
        public var documentCount: Int
        public var errors: [ManifestError]
        /// Nil when a document failed: nothing is planned from a partial set.
        public var desired: DesiredHost?
        /// What the host checks could not look at (a tarball not unpacked yet).
        public var notes: [String] = []
    }

    /// `runtime`: also check each container against the host's files (its
    /// init command and working directory in its root filesystem), as plan
    /// and apply do before anything is created; validate does not look at
    /// the host.
    public static func load(paths: [String], host: HostFacts, runtime: ContainerRuntime? = nil) -> Outcome {
        let loaded = ManifestLoader().load(paths: paths)
        guard loaded.errors.isEmpty else {
            return Outcome(files: loaded.files, documentCount: loaded.documents.count, errors: loaded.errors, desired: nil)
        }
        let (desired, errors) = ManifestSet(documents: loaded.documents).resolve(for: host)
        var outcome = Outcome(
            files: loaded.files, documentCount: loaded.documents.count, errors: errors,
            desired: errors.isEmpty ? desired.defaulted() : nil)
        if let runtime, let resolved = outcome.desired {
            let (hostErrors, notes) = HostCheck.check(resolved, runtime: runtime, locator: FieldLocator(documents: loaded.documents))
            outcome.notes = notes
            if !hostErrors.isEmpty {
                outcome.errors = hostErrors.sorted()
                outcome.desired = nil
            }
        }
        return outcome
    }
}

/// Checks of resolved manifests against the host's files, at the position
/// of the field they concern: what a container needs from its root
/// filesystem to start (InitCheck).
public enum HostCheck {
    public static func check(
        _ desired: DesiredHost, runtime: ContainerRuntime, locator: FieldLocator
    ) -> (errors: [ManifestError], notes: [String]) {
        var errors: [ManifestError] = []
        var notes: [String] = []
        for container in desired.containers {
            let name = container.metadata.name
            func fail(_ path: FieldPath, _ message: String, hint: String? = nil) {
                let location = locator.location(container: name, path) ?? container.source
                errors.append(ManifestError(location: location, fieldPath: path.description, message: message, hint: hint))
            }
            let spec = container.spec
            let root: InitCheck.Root?
            do {
                root = try runtime.initCheckRoot(container)
            } catch {
                fail(.root / "spec" / "rootfs", "cannot look at the root filesystem: \(error)")
                continue
            }
            guard let root else {
                if case .tarball(let tarball) = spec.rootfs?.source {
                    notes.append("\(name): tarball \(tarball) is not unpacked yet; its init command is checked once it is")
                }
                continue
            }
            let initPath = FieldPath.root / "spec" / "init"
            for problem in InitCheck.problems(spec, in: root) {
                switch problem.field {
                case .command: fail(initPath / "command" / 0, problem.message, hint: problem.hint)
                case .workingDir: fail(initPath / "workingDir", problem.message, hint: problem.hint)
                }
            }
        }
        return (errors, notes)
    }
}

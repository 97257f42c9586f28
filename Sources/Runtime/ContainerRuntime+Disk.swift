import FoundationEssentials
import Kernel
import Model

#if canImport(Glibc)
    import Glibc
#endif

/// Where a container's private layer keeps its disk quota.
public enum DiskBackend: String, Sendable, Equatable, Codable {
    /// A loop-mounted ext4 image: where the kernel has ext4 quotas, its
    /// space and inode limits are project 1's quota inside it (the image a
    /// slack larger, DiskImage.slack); else the image's size is the quota.
    case image
    /// A directory of the state dir's filesystem marked with a project ID,
    /// the quota's limits on that project.
    case projectQuota = "project-quota"
}

/// A container's disk quota as the host holds it, and its use.
public struct DiskQuotaStatus: Sendable, Equatable {
    public var backend: DiskBackend
    /// The space limit (the project's block limit, or an image's size where
    /// it has none); nil when it cannot be read.
    public var size: UInt64?
    /// An image whose space is limited only by its size, whose block limit
    /// can be set live (made before berth counted an image's space: it has
    /// a project quota for its inode limit, and is mounted).
    public var spaceLimitMissing = false
    /// An image whose space limit is project 1's block limit inside it.
    public var spaceQuota = false
    /// The inode limit (nil: none).
    public var inodes: UInt64?
    /// Whether an inode limit can be set while it runs (an image made
    /// without quotas gets them at its next start).
    public var inodeLimitLive: Bool
    public var usedBytes: UInt64?
    public var usedInodes: UInt64?
    /// The project ID (project-quota backend).
    public var project: UInt32?
    /// Whether user and group quotas are enforced inside (a disk image
    /// mounted with usrquota,grpquota); nil when it cannot tell (an image
    /// not mounted).
    public var userQuota: Bool?
}

/// The directory that holds a private layer with a disk quota.
struct PrivateDisk {
    var directory: String
    var image: String?
    var project: UInt32?
}

extension ContainerRuntime {
    /// Why this host cannot hold `name`'s `resources.disk.inodes` (nil when
    /// it can), as `privateDisk` would find out at create: a project quota
    /// on the state dir, or one already in its image, or a kernel whose
    /// ext4 has quotas. Plan refuses the field at its line with it.
    public func inodeLimitProblem(_ name: String) -> String? {
        let disk = state.diskImage(name)
        if disk.exists { return disk.hasProjectQuota || DiskImage.kernelHasQuotaFormat ? nil : DiskImage.noQuotaSupport }
        if newLayerHasProjectQuota(name) { return nil }
        return DiskImage.kernelHasQuotaFormat ? nil : DiskImage.noQuotaSupport
    }

    /// Why this host cannot hold `name`'s `resources.disk.userQuota: true`
    /// (nil when it can): it needs a disk image of its own, whose ext4 the
    /// kernel can give quotas. Plan refuses the field at its line with it.
    public func userQuotaProblem(_ name: String) -> String? {
        if state.load(name)?.diskProject != nil { return ContainerRuntime.userQuotaNeedsAnImage }
        let disk = state.diskImage(name)
        if disk.exists { return disk.hasUserQuota || DiskImage.kernelHasQuotaFormat ? nil : DiskImage.noQuotaSupport }
        if newLayerHasProjectQuota(name) { return ContainerRuntime.userQuotaNeedsAnImage }
        return DiskImage.kernelHasQuotaFormat ? nil : DiskImage.noQuotaSupport
    }

    /// Whether a private layer made now would be a project-quota directory
    /// (the state dir's filesystem enforces them).
    func newLayerHasProjectQuota(_ name: String) -> Bool {
        let directory = [state.containerDirectory(name), state.containersDirectory, paths.stateDirectory.string].first(where: Syscall.exists)
        return directory.map(ProjectQuota.isEnforced(on:)) ?? false
    }

    /// The container's private layer with its disk quota, made, sized and
    /// mounted, when its spec has one (nil without one): a project quota
    /// where the state dir's filesystem enforces them, else a disk image.
    /// A private layer kept in another form (a plain directory, or one
    /// with a quota once the quota is gone) is refused: berth does not move
    /// files between them.
    func privateDisk(_ container: ContainerObject, owner: (uid: UInt32, gid: UInt32)) throws -> PrivateDisk? {
        let name = container.metadata.name
        let disk = state.diskImage(name)
        let directoryLayer = state.containerDirectory(name) + "/upper"
        let projectLayer = (try? ProjectQuota.project(of: disk.mountPoint)).map { $0.id != 0 } ?? false
        guard let quota = container.spec.resources.disk, let size = quota.size?.bytes else {
            if disk.exists || projectLayer {
                throw RuntimeError(
                    description: "\(name): its private layer has a disk quota (\(disk.exists ? disk.image : disk.mountPoint)) "
                        + "and the manifest has no spec.resources.disk; delete the container (or give it its disk quota back)")
            }
            return nil
        }
        if !disk.exists && Syscall.exists(directoryLayer) && !((try? FileManager.default.contentsOfDirectory(atPath: directoryLayer)) ?? []).isEmpty {
            throw RuntimeError(
                description: "\(name): its private layer (\(directoryLayer)) has no disk quota; "
                    + "delete the container to give it spec.resources.disk (apply --replace)")
        }
        // As every container's directory (0755): a user-namespace container's
        // mapped root passes through it to its private layer. The image
        // itself is root's, 0600.
        try Syscall.makeDirectories(state.containerDirectory(name))
        let userQuota = quota.userQuota ?? false
        if !disk.exists && (projectLayer || ProjectQuota.isEnforced(on: state.containerDirectory(name))) {
            if userQuota { throw RuntimeError(description: "\(name): \(ContainerRuntime.userQuotaNeedsAnImage)") }
            return try projectDisk(name, quota: quota, size: size, owner: owner)
        }
        // Where the kernel has ext4 quotas the space limit is project 1's
        // block limit, the image a slack larger (an image made before
        // that gets them here); else the image's size is the limit.
        let spaceQuota = DiskImage.kernelHasQuotaFormat
        let imageSize = spaceQuota ? DiskImage.imageSize(forLimit: size) : size
        let quotasMissing = (quota.inodes != nil && !disk.hasProjectQuota) || (userQuota && !disk.hasUserQuota)
        if quotasMissing && !DiskImage.kernelHasQuotaFormat {
            // Refused before an image is made or changed: one with quotas
            // would not mount here at all.
            throw RuntimeError(description: "\(name): its disk image: \(DiskImage.noQuotaSupport)")
        }
        var created = false
        if !disk.exists {
            try disk.create(size: imageSize, owner: owner, projectQuota: spaceQuota || quota.inodes != nil, userQuota: userQuota)
            created = true
        } else if let current = disk.size, imageSize != current {
            // Not running: resized unmounted (no capability needed, and a
            // shrink can only be done so).
            try disk.unmount()
            try disk.resizeOffline(to: imageSize)
        }
        if (spaceQuota || quota.inodes != nil) && !disk.hasProjectQuota {
            // Made before its space was a quota, or an inode limit added
            // since it was made: quotas, unmounted.
            try disk.unmount()
            try disk.enableProjectQuota()
        }
        if userQuota && !disk.hasUserQuota {
            // resources.disk.userQuota set since it was made: its quota files.
            try disk.unmount()
            try disk.enableUserQuota()
        }
        if disk.isMounted && disk.userQuotaEnforced != userQuota {
            // Mounted again with (or without) usrquota,grpquota.
            try disk.unmount()
        }
        do {
            try disk.mount(userQuota: userQuota)
        } catch {
            if created { try? Syscall.removeFile(disk.image, missingOK: true) }
            throw error
        }
        // The overlay's directories belong on the image (charged to its project).
        try makeLayerDirectories(disk.mountPoint, owner: owner, project: disk.hasProjectQuota ? DiskImage.projectID : nil)
        if disk.hasProjectQuota {
            try setProjectLimits(name, id: DiskImage.projectID, directory: disk.mountPoint, size: size, inodes: quota.inodes)
        }
        return PrivateDisk(directory: disk.mountPoint, image: disk.image)
    }

    /// Why resources.disk.userQuota is refused on the project-quota backend.
    static let userQuotaNeedsAnImage =
        "spec.resources.disk.userQuota needs a disk image of its own (the state dir's filesystem enforces project quotas, "
        + "so its private layer is a directory there, whose user quotas are the host's); set it to false"

    /// Refuses a restart that would give the container user quotas it
    /// cannot have (a project quota, or a kernel without ext4 quotas),
    /// before the restart stops it.
    public func checkUserQuota(_ name: String, _ quota: DiskSpec?) throws {
        guard quota?.userQuota == true, state.load(name) != nil, let problem = userQuotaProblem(name) else { return }
        throw RuntimeError(description: "\(name): \(problem)")
    }

    /// The private layer as a directory with a project quota: its ID kept
    /// (a persistent layer) or a free one taken, its limits set.
    func projectDisk(_ name: String, quota: DiskSpec, size: UInt64, owner: (uid: UInt32, gid: UInt32)) throws -> PrivateDisk {
        let directory = state.diskImage(name).mountPoint
        if !Syscall.exists(directory) {
            try Syscall.mkdir(directory, mode: 0o700)
            guard chown(directory, owner.uid, owner.gid) == 0 else { throw SystemError(call: "chown", errno: errno, subject: directory) }
        }
        var id = try ProjectQuota.project(of: directory).id
        if id == 0 {
            id = try freeProject(for: directory)
            try ProjectQuota.setProject(id, on: directory)
        }
        guard ProjectQuota.isEnforced(on: directory) else {
            throw RuntimeError(
                description: "\(name): its private layer (\(directory)) has project quota \(id), "
                    + "and the state dir's filesystem no longer enforces project quotas (mount it with prjquota)")
        }
        try setProjectLimits(name, id: id, directory: directory, size: size, inodes: quota.inodes)
        try makeLayerDirectories(directory, owner: owner, project: id)
        return PrivateDisk(directory: directory, project: id)
    }

    /// upper and work under `directory`, owned by the container's root,
    /// marked with `project` (both: overlayfs renames from one to the
    /// other, which the kernel refuses across projects).
    func makeLayerDirectories(_ directory: String, owner: (uid: UInt32, gid: UInt32), project: UInt32?) throws {
        for layer in [directory + "/upper", directory + "/work"] {
            if !Syscall.exists(layer) {
                try Syscall.mkdir(layer, mode: 0o755)
                guard chown(layer, owner.uid, owner.gid) == 0 else { throw SystemError(call: "chown", errno: errno, subject: layer) }
            }
            if let project, try ProjectQuota.project(of: layer).id != project { try ProjectQuota.setProject(project, on: layer) }
        }
    }

    /// A project ID no one uses on the filesystem of `directory`: derived
    /// from its path (in 2^24 ..< 2^31, clear of the small IDs people give
    /// by hand), the next candidate while one has use or limits.
    func freeProject(for directory: String) throws -> UInt32 {
        for attempt in UInt32(0)..<256 {
            let id = ContainerRuntime.projectCandidate(for: directory, attempt: attempt)
            let result = Result { () throws(SystemError) in try ProjectQuota.usage(of: id, on: directory) }
            switch result {
            case .success(let usage) where usage.usedInodes == 0 && usage.bytesLimit == nil && usage.inodesLimit == nil: return id
            case .success: continue
            case .failure(let error) where error.errno == ENOENT: return id  // XFS: no such quota yet
            case .failure(let error): throw error
            }
        }
        throw RuntimeError(description: "no free project ID for \(directory) (256 candidates are in use)")
    }

    /// The `attempt`th project ID candidate for a container's directory.
    static func projectCandidate(for directory: String, attempt: UInt32) -> UInt32 {
        let base: UInt32 = 1 << 24
        return base + (FNV1a.hash32(directory) &+ attempt) % ((1 << 31) - base)
    }

    /// A project's limits, refused (changing nothing) below what it uses.
    func setProjectLimits(_ name: String, id: UInt32, directory: String, size: UInt64, inodes: UInt64?) throws {
        let usage = try? ProjectQuota.usage(of: id, on: directory)
        if let usage, usage.usedBytes > size { throw ContainerRuntime.quotaBelowUse(name, used: usage.usedBytes, size: size) }
        if let usage, let inodes, usage.usedInodes > inodes {
            throw RuntimeError(
                description: "\(name): its files use \(usage.usedInodes) inodes, more than spec.resources.disk.inodes \(inodes); "
                    + "remove files inside, or keep spec.resources.disk.inodes at least \(usage.usedInodes)")
        }
        try ProjectQuota.setLimits(bytes: size, inodes: inodes, of: id, on: directory)
    }

    /// A space limit refused below what the container's files use.
    static func quotaBelowUse(_ name: String, used: UInt64, size: UInt64) -> RuntimeError {
        RuntimeError(
            description: "\(name): its files use \(ByteSize(bytes: used)), more than a \(ByteSize(bytes: size)) disk quota; "
                + "free space inside, or keep spec.resources.disk.size at least \(ByteSize(bytes: ContainerRuntime.roundedUp(used)))")
    }

    /// A use with 30% to spare, in whole MiB: a size to suggest.
    static func roundedUp(_ bytes: UInt64) -> UInt64 { (bytes * 13 / 10 + (1 << 20)) & ~UInt64((1 << 20) - 1) }

    /// A running container's new disk quota, live: a project's limits
    /// (either way); an image grown (it shrinks only at a restart: the
    /// planner never asks for that here) and its project quota's limits
    /// (the block limit a slack below the image's size; an image without
    /// one gets it here).
    func updateDisk(_ record: ContainerRecord, _ quota: DiskSpec) throws {
        let name = record.name
        guard let size = quota.size?.bytes else { return }
        if let id = record.diskProject {
            try setProjectLimits(name, id: id, directory: state.diskImage(name).mountPoint, size: size, inodes: quota.inodes)
        } else if let image = record.diskImage {
            let disk = state.diskImage(name)
            guard disk.image == image else { throw RuntimeError(description: "\(name): its disk image is \(image), not \(disk.image)") }
            let spaceQuota = disk.isMounted && disk.hasProjectQuota
            try disk.grow(to: spaceQuota ? DiskImage.imageSize(forLimit: size) : size)
            if spaceQuota {
                try setProjectLimits(name, id: DiskImage.projectID, directory: disk.mountPoint, size: size, inodes: quota.inodes)
            }
        }
    }

    /// The container's disk quota as the host holds it (nil: its private
    /// layer has none).
    public func diskQuota(_ record: ContainerRecord) -> DiskQuotaStatus? {
        let disk = state.diskImage(record.name)
        if let id = record.diskProject {
            let usage = try? ProjectQuota.usage(of: id, on: disk.mountPoint)
            return DiskQuotaStatus(
                backend: .projectQuota, size: usage?.bytesLimit, inodes: usage?.inodesLimit, inodeLimitLive: true,
                usedBytes: usage?.usedBytes, usedInodes: usage?.usedInodes, project: id, userQuota: false)
        }
        guard record.diskImage != nil else { return nil }
        let filesystem = disk.usage()
        let quota = disk.isMounted && disk.hasProjectQuota ? try? ProjectQuota.usage(of: DiskImage.projectID, on: disk.mountPoint) : nil
        // The block limit where it has one (the size as the user wrote it,
        // not the image's, which is a slack larger).
        let spaceLimit = quota?.bytesLimit
        var status = DiskQuotaStatus(
            backend: .image, size: spaceLimit ?? disk.size, inodes: quota?.inodesLimit, inodeLimitLive: quota != nil,
            usedBytes: spaceLimit != nil ? quota?.usedBytes : filesystem?.usedBytes, usedInodes: quota?.usedInodes ?? filesystem?.usedInodes,
            userQuota: disk.isMounted ? disk.userQuotaEnforced : nil)
        status.spaceLimitMissing = quota != nil && spaceLimit == nil
        status.spaceQuota = spaceLimit != nil
        return status
    }

    /// The size of the container's disk quota as the host holds it; nil
    /// when its private layer has none.
    public func diskSize(_ record: ContainerRecord) -> UInt64? { diskQuota(record)?.size }

    /// Refuses shrinking the container's disk image below what its files
    /// need (checked while it runs, before a restart stops it).
    public func checkDiskShrink(_ name: String, to size: ByteSize?) throws {
        guard let size = size?.bytes, let record = state.load(name), record.diskImage != nil else { return }
        let disk = state.diskImage(name)
        if let status = diskQuota(record), status.spaceQuota, let used = status.usedBytes, used > size {
            // Its space is a project quota: refused below the project's use.
            throw ContainerRuntime.quotaBelowUse(name, used: used, size: size)
        }
        let imageSize = DiskImage.kernelHasQuotaFormat ? DiskImage.imageSize(forLimit: size) : size
        guard let current = disk.size, imageSize < current, disk.fits(in: imageSize) == false, let usage = disk.usage() else { return }
        throw RuntimeError(
            description: "\(name): its files (\(ByteSize(bytes: usage.usedBytes))) do not fit in a \(ByteSize(bytes: imageSize)) disk image; "
                + "free space inside, or keep spec.resources.disk.size at least \(ByteSize(bytes: ContainerRuntime.roundedUp(usage.usedBytes)))")
    }
}

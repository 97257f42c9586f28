import Kernel
import Model

/// One user's or group's quota inside a container, by its ID there.
public struct UserQuotaEntry: Sendable, Equatable {
    public var kind: Quota.Kind
    /// The ID inside the container.
    public var id: UInt32
    /// The ID on the host (the image's files carry it).
    public var hostID: UInt32
    public var usage: ProjectQuota.Usage
}

extension ContainerRuntime {
    /// The second level of a container's disk quota (resources.disk.userQuota):
    /// user and group quotas on its disk image, set and read from the host
    /// (quotactl_fd on the mounted image; container root cannot: its root
    /// is overlayfs, and quotactl needs CAP_SYS_ADMIN of the host's user
    /// namespace). IDs are the container's, through its user namespace's maps.
    func userQuotaImage(_ name: String) throws -> (disk: DiskImage, mapping: ContainerConfig.IDMapping?) {
        guard let record = state.load(name) else { throw RuntimeError(description: "no container named '\(name)'") }
        let disk = state.diskImage(name)
        guard record.diskImage != nil, disk.isMounted, disk.userQuotaEnforced else {
            throw RuntimeError(
                description: "\(name): no user quotas inside: they need spec.resources.disk.userQuota: true on a disk image"
                    + (record.diskProject != nil ? " (its disk quota is a project quota)" : record.diskImage == nil ? " (it has no disk quota)" : "")
                    + (record.diskImage != nil && !disk.isMounted ? " (its image is not mounted: start it)" : ""))
        }
        return (disk, record.spec?.userNamespace)
    }

    /// Every user's and group's quota inside the container (IDs with use
    /// or limits), by their IDs there.
    public func userQuotas(_ name: String) throws -> [UserQuotaEntry] {
        let (disk, mapping) = try userQuotaImage(name)
        var entries: [UserQuotaEntry] = []
        for kind in [Quota.Kind.user, .group] {
            let map = kind == .user ? mapping?.uidMap : mapping?.gidMap
            for entry in try Quota.all(kind, on: disk.mountPoint) {
                // An ID the container cannot name (the host's, outside its map) is left out.
                guard let id = map.map({ IDShift.container(entry.id, in: $0) }) ?? entry.id else { continue }
                entries.append(UserQuotaEntry(kind: kind, id: id, hostID: entry.id, usage: entry.usage))
            }
        }
        return entries
    }

    /// Sets the hard limits (nil: none) of user or group `id` (the
    /// container's ID) inside the container. Live.
    public func setUserQuota(_ name: String, kind: Quota.Kind, id: UInt32, bytes: UInt64?, inodes: UInt64?) throws {
        let (disk, mapping) = try userQuotaImage(name)
        let map = kind == .user ? mapping?.uidMap : mapping?.gidMap
        guard let hostID = map.map({ IDShift.host(id, in: $0) }) ?? id else {
            throw RuntimeError(description: "\(name): \(kind.name) \(id) is outside the container's \(kind == .user ? "uid" : "gid") map")
        }
        try Quota.setLimits(kind, bytes: bytes, inodes: inodes, of: hostID, on: disk.mountPoint)
    }
}

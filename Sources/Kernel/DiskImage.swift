import CLinux

#if canImport(Glibc)
    import Glibc
#endif

/// A container's private layer on a disk image of its own, as OpenVZ's
/// ploop: a sparse file formatted ext4 (Debian's mke2fs), attached to a loop
/// device with LOOP_CONFIGURE (auto-clearing: unmounting detaches it) and
/// mounted nosuid,nodev where the overlay's upper and work directories live.
/// Where the kernel has ext4 quotas, the container's disk quota is a project
/// quota inside it (block limit: the quota; the file a slack larger): a write
/// past it fails with EDQUOT, which the kernel's quota warnings count; else
/// its size is the quota and a write past it fails with ENOSPC. Either way
/// nothing outside fills up. Grown live (the file, then
/// LOOP_SET_CAPACITY, then EXT4_IOC_RESIZE_FS on the mounted filesystem);
/// shrunk only while unmounted (e2fsck, resize2fs).
public struct DiskImage: Sendable {
    /// The image file.
    public let image: String
    /// Where it is mounted.
    public let mountPoint: String

    public init(image: String, mountPoint: String) {
        self.image = image
        self.mountPoint = mountPoint
    }

    /// The programs of Debian's e2fsprogs that make and shrink images.
    static let mke2fs = "/usr/sbin/mke2fs"
    static let e2fsck = "/usr/sbin/e2fsck"
    static let resize2fs = "/usr/sbin/resize2fs"

    /// What the kernel says of a mounted image.
    public struct Usage: Sendable, Equatable {
        /// The image file's size: the quota.
        public var size: UInt64
        /// Bytes in use, and the filesystem's capacity (its size less ext4's own).
        public var usedBytes: UInt64
        public var capacityBytes: UInt64
        public var inodes: UInt64
        public var usedInodes: UInt64
    }

    /// Size of the image file (nil: there is none).
    public var size: UInt64? {
        var info = stat()
        guard stat(image, &info) == 0 else { return nil }
        return UInt64(info.st_size)
    }

    public var exists: Bool { Syscall.exists(image) }

    static let tune2fs = "/usr/sbin/tune2fs"

    /// What an image whose space limit is its project quota holds beyond
    /// that limit: room for ext4's own structures (the journal, up to 1 GiB
    /// on a 128 GiB filesystem and 16 MiB below 1 GiB; inode tables, 1/64 of
    /// the size at mke2fs's 16 KiB per 256-byte inode; bitmaps, group
    /// descriptors and the GDT blocks reserved for growing), so the quota
    /// refuses with EDQUOT, which the kernel warns of and berth counts,
    /// before the filesystem is full (ENOSPC, which nothing counts). A
    /// sixteenth of the size plus 32 MiB, in whole MiB: about twice what
    /// ext4 takes at any size. The file is sparse: the slack costs no
    /// space on the host until ext4 writes its structures there.
    public static func slack(forLimit size: UInt64) -> UInt64 {
        let mib: UInt64 = 1 << 20
        return (size / 16 + 32 * mib + mib - 1) / mib * mib
    }

    /// The size of an image file whose project quota limits its space to
    /// `size` bytes.
    public static func imageSize(forLimit size: UInt64) -> UInt64 {
        let (sum, overflow) = size.addingReportingOverflow(slack(forLimit: size))
        return overflow ? .max : sum
    }

    /// The project ID of the private layer on an image with project quotas
    /// (the image holds only that layer: any ID but 0 does).
    public static let projectID: UInt32 = 1

    /// Makes the image: a sparse file of `size` bytes, formatted ext4 with
    /// its root directory owned by `owner` (the container's root on the
    /// host); with `projectQuota`, with ext4's quota and project features
    /// (an inode limit is then a project quota on its private layer); with
    /// `userQuota`, with user and group quota files (the second level).
    public func create(size: UInt64, owner: (uid: UInt32, gid: UInt32), projectQuota: Bool = false, userQuota: Bool = false)
        throws(SystemError)
    {
        let fd = try Syscall.open(image, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode: 0o600)
        defer { Syscall.close(fd) }
        guard ftruncate(fd, off_t(clamping: size)) == 0 else {
            let error = errno
            _ = unlink(image)
            throw SystemError(call: "ftruncate", errno: error, subject: image)
        }
        let kinds: [Quota.Kind] = (userQuota ? [.user, .group] : []) + (projectQuota ? [.project] : [])
        let quotaTypes = kinds.isEmpty ? "" : ",quotatype=" + kinds.map(DiskImage.mountOption).joined(separator: ":")
        let result = try Spawn.run(
            [
                DiskImage.mke2fs, "-q", "-F", "-t", "ext4", "-m", "0", "-E",
                "root_owner=\(owner.uid):\(owner.gid),nodiscard" + quotaTypes, "-L", "berth",
            ] + (kinds.isEmpty ? [] : ["-O", projectQuota ? "quota,project" : "quota"]) + [image], mergingStandardError: true)
        guard result.exitedCleanly else {
            _ = unlink(image)
            let output = String(decoding: result.output, as: UTF8.self).lastLine
            throw SystemError(call: "mke2fs", errno: EIO, subject: "\(image): \(output)")
        }
    }

    /// Whether the image is mounted at the mount point (another device than
    /// the directory it is in).
    public var isMounted: Bool {
        guard let inner = Syscall.inode(mountPoint), let outer = Syscall.inode(mountPoint + "/..") else { return false }
        return inner.device != outer.device
    }

    /// The mount option (and mke2fs/tune2fs quota type) of a quota kind.
    static func mountOption(_ kind: Quota.Kind) -> String {
        switch kind {
        case .user: return "usrquota"
        case .group: return "grpquota"
        case .project: return "prjquota"
        }
    }

    /// The mount data for an image: project quotas enforced where it has
    /// them; user and group quotas enforced when `userQuota` asks (else an
    /// image with them only accounts).
    static func mountData(projectQuota: Bool, userQuota: Bool) -> String {
        let kinds: [Quota.Kind] = (userQuota ? [.user, .group] : []) + (projectQuota ? [.project] : [])
        return kinds.map(mountOption).joined(separator: ",")
    }

    /// Attaches and mounts the image (nothing when it is mounted already),
    /// with user and group quotas enforced when `userQuota` asks.
    public func mount(userQuota: Bool = false) throws(SystemError) {
        if isMounted { return }
        try Syscall.makeDirectories(mountPoint, mode: 0o700)
        var device = [CChar](repeating: 0, count: 64)
        let loop = berth_loop_attach(image, &device, UInt(device.count))
        guard loop >= 0 else {
            let error = errno
            if !Syscall.exists("/dev/loop-control") {
                throw SystemError(
                    call: "LOOP_CONFIGURE", errno: error,
                    subject: "\(image): the kernel's loop driver is not loaded (no /dev/loop-control; modprobe loop)")
            }
            throw SystemError(call: "LOOP_CONFIGURE", errno: error, subject: image)
        }
        defer { Syscall.close(loop) }
        let path = String(cString: device)
        let flags = berth_mount_flag_nosuid() | berth_mount_flag_nodev()
        let features = quotaFeatures
        let data = DiskImage.mountData(projectQuota: features.project, userQuota: userQuota && features.user)
        guard berth_mount(path, mountPoint, "ext4", flags, data) == 0 else {
            let error = errno
            if !data.isEmpty && error == EINVAL {
                throw SystemError(
                    call: "mount", errno: error,
                    subject: "\(image) (\(path)) on \(mountPoint): \(DiskImage.noQuotaSupport)")
            }
            throw SystemError(call: "mount", errno: error, subject: "\(image) (\(path)) on \(mountPoint)")
        }
    }

    /// Why an image with quotas does not mount on a kernel without ext4
    /// quota support.
    public static let noQuotaSupport =
        "this kernel cannot enforce ext4 quotas (it lacks CONFIG_QUOTA and CONFIG_QFMT_V2: dmesg says so), "
        + "so spec.resources.disk.inodes and spec.resources.disk.userQuota cannot be enforced on this host"

    /// Whether the image's ext4 has the quota and project features (read
    /// from its superblock; false when it cannot be read).
    public var hasProjectQuota: Bool { quotaFeatures.project }

    /// Whether the image's ext4 has user and group quota files.
    public var hasUserQuota: Bool { quotaFeatures.user }

    /// Which quotas the image's ext4 can hold (from its superblock; none
    /// when it cannot be read).
    var quotaFeatures: (project: Bool, user: Bool) {
        guard let fd = try? Syscall.open(image, O_RDONLY | O_CLOEXEC) else { return (false, false) }
        defer { Syscall.close(fd) }
        var superblock = [UInt8](repeating: 0, count: 1024)
        let count = superblock.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 1024, 1024) }
        guard count == 1024 else { return (false, false) }
        return (DiskImage.ext4HasProjectQuota(superblock: superblock), DiskImage.ext4HasUserQuota(superblock: superblock))
    }

    /// From an ext4 superblock: whether it has the quota feature (0x100 of
    /// the read-only-compatible features) with user and group quota inodes
    /// (s_usr_quota_inum at 0x240, s_grp_quota_inum at 0x244).
    public static func ext4HasUserQuota(superblock: [UInt8]) -> Bool {
        guard superblock.count >= 0x248, superblock[0x38] == 0x53, superblock[0x39] == 0xef else { return false }
        func word(_ offset: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(superblock[offset + $1]) << (8 * UInt32($1)) } }
        return word(0x64) & 0x0100 != 0 && word(0x240) != 0 && word(0x244) != 0
    }

    /// From an ext4 superblock (the 1024 bytes at offset 1024): whether its
    /// read-only-compatible features hold quota (0x100) and project (0x2000).
    public static func ext4HasProjectQuota(superblock: [UInt8]) -> Bool {
        guard superblock.count >= 0x68, superblock[0x38] == 0x53, superblock[0x39] == 0xef else { return false }
        let roCompat = (0..<4).reduce(UInt32(0)) { $0 | UInt32(superblock[0x64 + $1]) << (8 * UInt32($1)) }
        return roCompat & 0x0100 != 0 && roCompat & 0x2000 != 0
    }

    /// Whether this kernel has ext4's quota format (quota_v2: loaded, built
    /// in, or a module it can load at the mount). Without it an image with
    /// quotas does not mount at all: berth then refuses an inode limit
    /// before it makes or changes an image.
    public static let kernelHasQuotaFormat: Bool = {
        if let modules = try? Syscall.readFile("/proc/modules", limit: 1 << 20),
            String(decoding: modules, as: UTF8.self).split(separator: "\n").contains(where: { $0.hasPrefix("quota_v2 ") })
        {
            return true
        }
        if Syscall.exists("/sys/module/quota_v2") { return true }
        guard let release = try? Syscall.readFile("/proc/sys/kernel/osrelease", limit: 256) else { return false }
        let version = String(decoding: release, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        let directory = "/lib/modules/" + version
        if let builtin = try? Syscall.readFile(directory + "/modules.builtin", limit: 1 << 22),
            String(decoding: builtin, as: UTF8.self).contains("/quota_v2.ko")
        {
            return true
        }
        for suffix in ["", ".xz", ".zst", ".gz"] where Syscall.exists(directory + "/kernel/fs/quota/quota_v2.ko" + suffix) { return true }
        // A kernel without a modules directory: its symbols say.
        guard let symbols = try? Syscall.readFile("/proc/kallsyms", limit: 1 << 28) else { return false }
        return String(decoding: symbols, as: UTF8.self).contains(" v2_read_file_info")
    }()

    /// Gives the unmounted image the quota and project features (tune2fs),
    /// for an inode limit added after it was made.
    public func enableProjectQuota() throws(SystemError) { try enableQuotas([.project]) }

    /// Gives the unmounted image user and group quota files (tune2fs), for
    /// resources.disk.userQuota set after it was made.
    public func enableUserQuota() throws(SystemError) { try enableQuotas([.user, .group]) }

    func enableQuotas(_ kinds: [Quota.Kind]) throws(SystemError) {
        guard !isMounted else { throw SystemError(call: "tune2fs", errno: EBUSY, subject: "\(image) is mounted") }
        let features = kinds.contains(.project) ? "quota,project" : "quota"
        let result = try Spawn.run(
            [DiskImage.tune2fs, "-O", features, "-Q", kinds.map(DiskImage.mountOption).joined(separator: ","), image], mergingStandardError: true)
        guard result.exitedCleanly else {
            throw SystemError(call: "tune2fs", errno: EIO, subject: "\(image): \(String(decoding: result.output, as: UTF8.self).lastLine)")
        }
    }

    /// Whether the mounted image enforces user quotas (mounted with
    /// usrquota; false when not mounted).
    public var userQuotaEnforced: Bool { isMounted && Quota.isEnforced(.user, on: mountPoint) }

    /// Unmounts it; the loop device detaches itself (nothing when not mounted).
    public func unmount() throws(SystemError) {
        guard isMounted else { return }
        guard berth_umount(mountPoint, 0) == 0 else { throw SystemError(call: "umount", errno: errno, subject: mountPoint) }
    }

    /// Grows the mounted image to `size` bytes, live.
    public func grow(to size: UInt64) throws(SystemError) {
        guard let current = self.size, size > current else { return }
        let fd = try Syscall.open(image, O_WRONLY | O_CLOEXEC)
        guard ftruncate(fd, off_t(clamping: size)) == 0 else {
            let error = errno
            Syscall.close(fd)
            throw SystemError(call: "ftruncate", errno: error, subject: image)
        }
        Syscall.close(fd)
        guard let device = loopDevice() else { throw SystemError(call: "resize", errno: ENODEV, subject: "\(image) is not mounted") }
        let loop = try Syscall.open(device, O_RDONLY | O_CLOEXEC)
        defer { Syscall.close(loop) }
        guard berth_loop_set_capacity(loop) == 0 else { throw SystemError(call: "LOOP_SET_CAPACITY", errno: errno, subject: device) }
        var usage = berth_filesystem_usage()
        guard berth_statfs(mountPoint, &usage) == 0, usage.block_size > 0 else {
            throw SystemError(call: "statfs", errno: errno, subject: mountPoint)
        }
        let directory = try Syscall.open(mountPoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { Syscall.close(directory) }
        guard berth_ext4_resize(directory, size / usage.block_size) == 0 else {
            let error = errno
            throw SystemError(
                call: "EXT4_IOC_RESIZE_FS", errno: error,
                subject: mountPoint + (error == EPERM ? " (growing a mounted image needs CAP_SYS_RESOURCE; it grows at the next start)" : ""))
        }
    }

    /// Resizes the unmounted image to `size` bytes (e2fsck, then the file
    /// and resize2fs in the order the direction needs). A shrink fails,
    /// changing nothing, when its files do not fit.
    public func resizeOffline(to size: UInt64) throws(SystemError) {
        guard let current = self.size, size != current else { return }
        guard !isMounted else { throw SystemError(call: "resize2fs", errno: EBUSY, subject: "\(image) is mounted") }
        let check = try Spawn.run([DiskImage.e2fsck, "-f", "-p", image], mergingStandardError: true)
        // 0: clean; 1: errors corrected.
        guard (check.status >> 8) & 0xff <= 1, check.status & 0x7f == 0 else {
            throw SystemError(call: "e2fsck", errno: EIO, subject: "\(image): \(String(decoding: check.output, as: UTF8.self).lastLine)")
        }
        let kib = size / 1024
        if size > current {
            guard truncate(image, off_t(clamping: size)) == 0 else { throw SystemError(call: "truncate", errno: errno, subject: image) }
        }
        let resize = try Spawn.run([DiskImage.resize2fs, image, "\(kib)K"], mergingStandardError: true)
        guard resize.exitedCleanly else {
            if size > current { _ = truncate(image, off_t(clamping: current)) }
            let detail = String(decoding: resize.output, as: UTF8.self).lastLine
            let message = size < current ? "its files do not fit in \(size / 1024)KiB (\(detail))" : detail
            throw SystemError(call: "resize2fs", errno: size < current ? ENOSPC : EIO, subject: "\(image): \(message)")
        }
        if size < current {
            guard truncate(image, off_t(clamping: kib * 1024)) == 0 else { throw SystemError(call: "truncate", errno: errno, subject: image) }
        }
    }

    /// Whether this process may grow a mounted ext4 filesystem
    /// (EXT4_IOC_RESIZE_FS needs CAP_SYS_RESOURCE): else images grow at a
    /// container's next start, unmounted.
    public static var growsOnline: Bool { ProcessCapabilities.sysResource }

    /// What the mounted filesystem holds (nil: not mounted).
    public func usage() -> Usage? {
        guard isMounted, let size else { return nil }
        var info = berth_filesystem_usage()
        guard berth_statfs(mountPoint, &info) == 0 else { return nil }
        return Usage(
            size: size, usedBytes: (info.blocks - info.blocks_free) * info.block_size, capacityBytes: info.blocks * info.block_size,
            inodes: info.files, usedInodes: info.files - info.files_free)
    }

    /// Whether the files of the mounted image would fit in an image of
    /// `size` bytes (ext4's own structures taken as they are now, scaled,
    /// with a tenth to spare): nil when it cannot tell (not mounted).
    public func fits(in size: UInt64) -> Bool? {
        guard let usage = usage(), usage.size > 0 else { return nil }
        let overhead = Double(usage.size - min(usage.size, usage.capacityBytes)) / Double(usage.size)
        let capacity = Double(size) * (1 - overhead)
        return Double(usage.usedBytes) * 1.1 <= capacity
    }

    /// The loop device the mount point's filesystem is on (/dev/loopN).
    func loopDevice() -> String? {
        guard let (major, minor) = Syscall.device(of: mountPoint),
            let uevent = try? Syscall.readFile("/sys/dev/block/\(major):\(minor)/uevent", limit: 4096)
        else { return nil }
        for line in String(decoding: uevent, as: UTF8.self).split(separator: "\n") where line.hasPrefix("DEVNAME=") {
            return "/dev/" + line.dropFirst("DEVNAME=".count)
        }
        return nil
    }
}

extension String {
    /// A program's output shortened to its last non-empty line, for an error.
    fileprivate var lastLine: String {
        split(separator: "\n").last.map { String($0.prefix(300)) } ?? ""
    }
}

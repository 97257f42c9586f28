import Testing

@testable import Kernel

/// Whether a container's /proc is LXCFS's, read from its init's mountinfo.
@Suite struct LXCFSTests {
    static let base = """
        1200 1100 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
        1201 1200 0:60 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
        1202 1200 0:61 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro

        """

    @Test(arguments: [
        ("", false),
        (base, false),
        // Debian's lxcfs.service: fuse.lxcfs, source lxcfs.
        (base + "1203 1201 0:70 /proc/meminfo /proc/meminfo rw,nosuid,nodev,relatime master:1 - fuse.lxcfs lxcfs rw,user_id=0\n", true),
        // An older fuse names the type "fuse".
        (base + "1203 1201 0:70 /proc/meminfo /proc/meminfo rw,relatime - fuse lxcfs rw\n", true),
        // Something else on meminfo (a bind of a plain file) is not LXCFS.
        (base + "1203 1201 8:1 /srv/meminfo /proc/meminfo rw,relatime - ext4 /dev/sda1 rw\n", false),
        // LXCFS on another file only: meminfo is what free reads.
        (base + "1203 1201 0:70 /proc/cpuinfo /proc/cpuinfo rw,relatime - fuse.lxcfs lxcfs rw\n", false),
        // Mounted somewhere below, not over /proc.
        (base + "1203 1200 0:70 / /var/lib/lxcfs rw,relatime - fuse.lxcfs lxcfs rw\n", false),
        // A truncated line.
        ("1203 1201 0:70 /proc/meminfo /proc/meminfo -\n", false),
    ])
    func meminfoUnderFUSEIsLXCFS(mountinfo: String, virtualized: Bool) {
        #expect(LXCFS.virtualizes(mountinfo: mountinfo) == virtualized)
    }

    @Test func aDirectoryThatIsNotFUSEIsNotLive() {
        #expect(!LXCFS(directory: "/").isLive())
        #expect(!LXCFS(directory: "/nonexistent/lxcfs").isLive())
        #expect(LXCFS().directory == "/var/lib/lxcfs")
    }
}

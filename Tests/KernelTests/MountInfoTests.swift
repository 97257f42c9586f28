import Testing

@testable import Kernel

/// /proc/PID/mountinfo split once over its bytes: the fields observe reads.
@Suite struct MountInfoTests {
    @Test func eachCompleteLineGivesItsMountPointTypeAndSuperOptions() {
        let text = """
            812 811 0:62 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
            820 812 0:70 / /dev/pts rw,nosuid shared:5 master:2 - devpts devpts rw,mode=620,ptmxmode=666,max=3

            1203 1201 0:70 /proc/meminfo /proc/meminfo rw,relatime -
            1204 1201 0:71 / /dev/shm rw - tmpfs shm rw,size=65536k
            """
        #expect(
            MountInfo(text).entries == [
                .init(mountPoint: "/", type: "overlay", superOptions: "rw,lowerdir=/l,upperdir=/u,workdir=/w"),
                .init(mountPoint: "/dev/pts", type: "devpts", superOptions: "rw,mode=620,ptmxmode=666,max=3"),
                .init(mountPoint: "/dev/shm", type: "tmpfs", superOptions: "rw,size=65536k"),
            ])
        #expect(MountInfo("").entries.isEmpty)
        #expect(MountInfo("a b c d e f - x").entries.isEmpty)
    }

    /// /proc/PID/mounts gives the same mount points and types, and the
    /// superblock's options after the mount's flags.
    @Test func mountsGiveTheSameMountPointsTypesAndOptions() {
        let text = """
            overlay / overlay rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w 0 0
            devpts /dev/pts devpts rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666,max=3 0 0

            lxcfs /proc/meminfo fuse.lxcfs rw,nosuid,nodev,relatime,user_id=0,group_id=0,allow_other 0 0
            a\\040b /x\\040y tmpfs rw 0 0
            short line
            """
        let mounts = MountInfo(mounts: Array(text.utf8))
        #expect(
            mounts.entries == [
                .init(mountPoint: "/", type: "overlay", superOptions: "rw,relatime,lowerdir=/l,upperdir=/u,workdir=/w"),
                .init(mountPoint: "/dev/pts", type: "devpts", superOptions: "rw,nosuid,noexec,relatime,gid=5,mode=620,ptmxmode=666,max=3"),
                .init(
                    mountPoint: "/proc/meminfo", type: "fuse.lxcfs",
                    superOptions: "rw,nosuid,nodev,relatime,user_id=0,group_id=0,allow_other"),
                .init(mountPoint: "/x\\040y", type: "tmpfs", superOptions: "rw"),
            ])
        #expect(ContainerLaunch.pseudoTerminalLimit(mounts) == 3)
        #expect(LXCFS.virtualizes(mounts))
        #expect(MountInfo(mounts: []).entries.isEmpty)
    }
}

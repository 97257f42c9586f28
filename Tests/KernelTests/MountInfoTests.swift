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
}

import Foundation
import Kernel
import Model
import Testing

@testable import Runtime

/// The beancounter rows a kernel sample gives, in OpenVZ's units, with each
/// figure's source; berth's recorded peaks; the OpenVZ table format.
@Suite struct BeancounterTests {
    func sample(_ version: CgroupVersion, _ configure: (inout CgroupObservation) -> Void = { _ in }) -> Beancounters.Sample {
        var cgroup = CgroupObservation()
        cgroup.limits.memoryMax = 128 << 20
        cgroup.limits.pidsMax = 64
        cgroup.memoryCurrent = 10 << 20
        cgroup.memoryPeak = 20 << 20
        cgroup.pidsCurrent = 3
        configure(&cgroup)
        return Beancounters.Sample(version: version, cgroup: cgroup, pageSize: 4096)
    }

    func row(_ rows: [Beancounter], _ resource: Beancounter.Resource) -> Beancounter? { rows.first { $0.resource == resource } }

    @Test func physpagesCountsPagesOfThisSystemsSizeWithTheLimitInPages() throws {
        let rows = Beancounters.rows(sample(.v2), recorded: [:]).rows
        let physpages = try #require(row(rows, .physpages))
        #expect(physpages.held == 2560 && physpages.maxheld == 5120)
        #expect(physpages.barrier == 32768 && physpages.limit == 32768)
        #expect(physpages.peak == .kernel && physpages.sources.maxheld == "memory.peak")
        #expect(physpages.resource.unit == .pages)
        let big = Beancounters.Sample(version: .v2, cgroup: sample(.v2).cgroup, pageSize: 65536)
        #expect(row(Beancounters.rows(big, recorded: [:]).rows, .physpages)?.limit == 2048)
    }

    @Test func noLimitIsWrittenAsOpenVZWroteIt() throws {
        let rows = Beancounters.rows(sample(.v2) { $0.limits.memoryMax = nil }, recorded: [:]).rows
        #expect(row(rows, .physpages)?.limit == 9_223_372_036_854_775_807)
        #expect(row(rows, .physpages)?.barrier == Beancounter.unlimited)
    }

    @Test func failcntOnV2IsMemoryEventsMaxAndPidsEventsMax() throws {
        let rows = Beancounters.rows(
            sample(.v2) {
                $0.memoryFailures = 7
                $0.pidsFailures = 12
                $0.oomKills = 2
                $0.swapFailures = 5
                $0.swapCurrent = 0
            }, recorded: [:]
        ).rows
        #expect(row(rows, .physpages)?.failcnt == 7)
        #expect(row(rows, .numproc)?.failcnt == 12)
        #expect(row(rows, .oomguarpages)?.failcnt == 2)
        #expect(row(rows, .swappages)?.failcnt == 5)
    }

    /// With swap accounting, v1 refuses a charge on memsw first when memory
    /// and swap share the limit: memory.failcnt stays 0 after an OOM kill.
    @Test func failcntOnV1CountsMemswRefusalsToo() throws {
        let rows = Beancounters.rows(
            sample(.v1) {
                $0.memoryFailures = 0
                $0.swapFailures = 9
            }, recorded: [:]
        ).rows
        #expect(row(rows, .physpages)?.failcnt == 9)
        #expect(row(rows, .physpages)?.sources.failcnt.hasPrefix("memory.failcnt + memory.memsw.failcnt") == true)
    }

    /// Kernels since 6.13 no longer count memsw refusals (seen here on
    /// 6.18: an OOM kill at memory.max with swap 0 left both failcnts 0):
    /// each OOM kill followed a refused charge, so physpages counts it.
    @Test func failcntOnV1IsAtLeastTheOOMKills() throws {
        let rows = Beancounters.rows(
            sample(.v1) {
                $0.memoryFailures = 0
                $0.swapFailures = 0
                $0.oomKills = 2
            }, recorded: [:]
        ).rows
        #expect(row(rows, .physpages)?.failcnt == 2)
        let v2 = Beancounters.rows(sample(.v2) { $0.oomKills = 2 }, recorded: [:]).rows
        #expect(row(v2, .physpages)?.failcnt == 0)
    }

    /// oomguarpages holds memory and swap in pages, not the OOM kill count.
    @Test func oomguarpagesHoldsPagesAndCountsKillsAsFailcnt() throws {
        let rows = Beancounters.rows(
            sample(.v2) {
                $0.swapCurrent = 4096 * 10
                $0.oomKills = 3
            }, recorded: [:]
        ).rows
        #expect(row(rows, .oomguarpages)?.held == 2570)
        #expect(row(rows, .oomguarpages)?.failcnt == 3)
    }

    @Test func kmemsizeIsBytesFromMemoryStatOnV2AndKmemOnV1() throws {
        let v2 = Beancounters.rows(sample(.v2) { $0.memoryStat = ["kernel_stack": 100, "slab": 1000, "sock": 10] }, recorded: [:]).rows
        #expect(row(v2, .kmemsize)?.held == 1110)
        #expect(row(v2, .kmemsize)?.resource.unit == .bytes)
        let newer = Beancounters.rows(sample(.v2) { $0.memoryStat = ["kernel": 5000, "kernel_stack": 100] }, recorded: [:]).rows
        #expect(row(newer, .kmemsize)?.held == 5000 && row(newer, .kmemsize)?.sources.held == "memory.stat kernel")
        let v1 = Beancounters.rows(
            sample(.v1) {
                $0.kernelMemory = 300
                $0.kernelMemoryPeak = 900
                $0.kernelMemoryFailures = 4
            }, recorded: [:]
        ).rows
        let kmem = try #require(row(v1, .kmemsize))
        #expect(kmem.held == 300 && kmem.maxheld == 900 && kmem.failcnt == 4 && kmem.peak == .kernel)
    }

    /// A counter the kernel keeps no peak of: berth's largest seen, carried
    /// between observations.
    @Test func peaksWithoutAKernelPeakAreRecordedBetweenObservations() throws {
        var first = sample(.v2)
        first.openFiles = 40
        first.sockets = (tcp: 20, other: 3)
        let (rows, peaks) = Beancounters.rows(first, recorded: [:])
        #expect(row(rows, .numtcpsock)?.held == 20 && row(rows, .numtcpsock)?.peak == .berth)
        #expect(peaks["numtcpsock"] == 20 && peaks["numfile"] == 40)
        var second = first
        second.sockets = (tcp: 2, other: 3)
        let (later, _) = Beancounters.rows(second, recorded: peaks)
        #expect(row(later, .numtcpsock)?.held == 2 && row(later, .numtcpsock)?.maxheld == 20)
        // numproc without pids.peak (v1, kernels before 6.1): berth's peak.
        #expect(row(later, .numproc)?.peak == .berth)
        #expect(row(Beancounters.rows(sample(.v2) { $0.pidsPeak = 9 }, recorded: [:]).rows, .numproc)?.maxheld == 9)
    }

    @Test func rowsWithoutASourceAreLeftOutAndTheOrderIsOpenVZs() throws {
        var full = sample(.v2)
        full.openFiles = 1
        full.sockets = (tcp: 0, other: 0)
        full.pseudoTerminals = 0
        full.firewallRules = 0
        full.lockedBytes = 0
        full.privateWritableBytes = 0
        full.cgroup.memoryStat = ["shmem": 0, "kernel": 0]
        full.cgroup.swapCurrent = 0
        full.disk = Beancounters.Disk(
            source: .image(spaceQuota: false, inodeQuota: false), usedBytes: 10 << 20, usedInodes: 11, sizeLimit: 1000 << 20, inodeLimit: 65536)
        let rows = Beancounters.rows(full, recorded: [:]).rows
        #expect(rows.map(\.resource) == Beancounter.Resource.allCases)
        #expect(row(rows, .diskspace)?.held == 10240 && row(rows, .diskspace)?.limit == 1_024_000)
        #expect(row(rows, .diskinodes)?.held == 11 && row(rows, .diskinodes)?.limit == 65536)
        let bare = Beancounters.rows(sample(.v2), recorded: [:]).rows
        #expect(bare.map(\.resource) == [.numproc, .physpages, .oomguarpages])
    }

    /// numfile: barrier and limit are the init's RLIMIT_NOFILE when
    /// spec.resources.numfile sets it, unlimited otherwise.
    @Test func numfileLimitIsTheInitsOpenFilesLimit() throws {
        var limited = sample(.v2)
        limited.openFiles = 7
        limited.openFilesLimit = 128
        let files = try #require(row(Beancounters.rows(limited, recorded: [:]).rows, .numfile))
        #expect(files.held == 7 && files.barrier == 128 && files.limit == 128)
        #expect(files.sources.limit.hasPrefix("RLIMIT_NOFILE of its init"))
        limited.openFilesLimit = nil
        let free = try #require(row(Beancounters.rows(limited, recorded: [:]).rows, .numfile))
        #expect(free.barrier == Beancounter.unlimited && free.limit == Beancounter.unlimited && free.sources.limit.hasPrefix("none"))
    }

    /// diskspace (1K blocks) and diskinodes from a project quota: a missing
    /// inode limit is unlimited; each figure names the quota it is read from.
    @Test func diskRowsOfAProjectQuotaAreInOpenVZsUnits() throws {
        var quota = sample(.v2)
        quota.disk = Beancounters.Disk(source: .projectQuota, usedBytes: 3 << 20, usedInodes: 40, sizeLimit: 64 << 20, inodeLimit: nil)
        let rows = Beancounters.rows(quota, recorded: [:]).rows
        let space = try #require(row(rows, .diskspace))
        #expect(space.held == 3072 && space.barrier == 65536 && space.limit == 65536 && space.resource.unit == .kilobytes)
        #expect(space.sources.held.hasPrefix("its project quota") && space.sources.limit.hasSuffix("block limit"))
        let inodes = try #require(row(rows, .diskinodes))
        #expect(inodes.held == 40 && inodes.barrier == Beancounter.unlimited && inodes.limit == Beancounter.unlimited)
        #expect(inodes.sources.limit.hasPrefix("none"))
    }

    /// An image's inode limit is the project quota inside it when it has one.
    @Test func diskinodesOfAnImageWithAnInodeQuotaNameThatQuota() throws {
        var image = sample(.v2)
        image.disk = Beancounters.Disk(
            source: .image(spaceQuota: false, inodeQuota: true), usedBytes: 1 << 20, usedInodes: 12, sizeLimit: 100 << 20, inodeLimit: 500)
        let rows = Beancounters.rows(image, recorded: [:]).rows
        #expect(row(rows, .diskspace)?.limit == 102_400 && row(rows, .diskspace)?.sources.limit.hasPrefix("statfs") == true)
        let inodes = try #require(row(rows, .diskinodes))
        #expect(inodes.held == 12 && inodes.limit == 500 && inodes.sources.limit.contains("project quota inside its disk image"))
    }

    /// An image whose space is the project quota inside it (a kernel with
    /// ext4 quotas) shows the block limit, the project's use, and the
    /// refusals counted from its quota warnings.
    @Test func diskspaceOfAnImageWithASpaceQuotaIsThatQuotaAndCounted() throws {
        var image = sample(.v2)
        image.disk = Beancounters.Disk(
            source: .image(spaceQuota: true, inodeQuota: false), usedBytes: 2 << 20, usedInodes: 12, sizeLimit: 64 << 20, inodeLimit: 4096)
        image.disk?.refusals = DiskRefusals(space: 4, inodes: 0)
        let rows = Beancounters.rows(image, recorded: [:]).rows
        let space = try #require(row(rows, .diskspace))
        #expect(space.held == 2048 && space.limit == 65_536 && space.failcnt == 4 && space.sources.failcnt == DiskRefusals.source)
        #expect(space.sources.limit == "the project quota inside its disk image (quotactl): block limit")
        let inodes = try #require(row(rows, .diskinodes))
        #expect(inodes.limit == 4096 && inodes.sources.limit.hasPrefix("statfs") && inodes.sources.failcnt == Beancounters.imageNotCounted)
    }

    /// diskspace and diskinodes failcnt are the refusals the agent counted
    /// from quota warnings; without an agent the row says they are not
    /// counted (no silent 0 that reads as "never refused"); a full image
    /// refuses with ENOSPC, which nothing counts.
    @Test func diskFailcntIsTheCountedQuotaWarningsOrSaysItIsNotCounted() throws {
        var quota = sample(.v2)
        quota.disk = Beancounters.Disk(source: .projectQuota, usedBytes: 3 << 20, usedInodes: 40, sizeLimit: 64 << 20, inodeLimit: 100)
        let uncounted = Beancounters.rows(quota, recorded: [:]).rows
        #expect(row(uncounted, .diskspace)?.failcnt == 0 && row(uncounted, .diskspace)?.sources.failcnt == DiskRefusals.notCounted)
        #expect(row(uncounted, .diskinodes)?.sources.failcnt == DiskRefusals.notCounted)
        quota.disk?.refusals = DiskRefusals(space: 3, inodes: 1)
        let counted = Beancounters.rows(quota, recorded: [:]).rows
        let space = try #require(row(counted, .diskspace))
        #expect(space.failcnt == 3 && space.sources.failcnt == "quota warnings of VFS_DQUOT, counted while berth agent runs")
        #expect(row(counted, .diskinodes)?.failcnt == 1 && row(counted, .diskinodes)?.sources.failcnt == DiskRefusals.source)

        var image = sample(.v2)
        image.disk = Beancounters.Disk(
            source: .image(spaceQuota: false, inodeQuota: true), usedBytes: 1 << 20, usedInodes: 12, sizeLimit: 100 << 20, inodeLimit: 500)
        image.disk?.refusals = DiskRefusals(space: 0, inodes: 2)
        let imageRows = Beancounters.rows(image, recorded: [:]).rows
        #expect(row(imageRows, .diskspace)?.sources.failcnt.hasPrefix("not counted: a full disk image refuses with ENOSPC") == true)
        #expect(row(imageRows, .diskinodes)?.failcnt == 2 && row(imageRows, .diskinodes)?.sources.failcnt == DiskRefusals.source)
    }

    @Test(arguments: [
        ("VmLck:\t     12 kB\nVmData:\t    400 kB\nVmStk:\t    132 kB\n", ["VmLck"], UInt64(12 * 1024)),
        ("VmLck:\t     12 kB\nVmData:\t    400 kB\nVmStk:\t    132 kB\n", ["VmData", "VmStk"], UInt64(532 * 1024)),
        ("Name:\tsh\nVmLck:\tgarbage kB\n", ["VmLck"], UInt64(0)),
        ("VmLck:\t18446744073709551615 kB\n", ["VmLck"], UInt64.max),
    ])
    func statusFiguresAreSummedInBytes(_ status: String, _ keys: [String], _ bytes: UInt64) {
        #expect(Beancounters.statusBytes(status, keys) == bytes)
    }

    @Test func firewallRulesAreCountedFromTheTableListing() {
        let listing = """
            table inet berth {
            \tchain input {
            \t\ttype filter hook input priority filter; policy drop;
            \t\tct state established,related accept
            \t\tiifname "lo" accept
            \t\ttcp dport 80 accept
            \t}
            }
            """
        #expect(ContainerFirewall.ruleCount(listing: listing) == 3)
        #expect(ContainerFirewall.ruleCount(listing: "") == 0)
    }

    @Test func theTableIsOpenVZsProcUserBeancounters() throws {
        let rows = Beancounters.rows(sample(.v2) { $0.pidsFailures = 5 }, recorded: [:]).rows
        let text = BeancounterTable.render([(name: "web1", counters: rows)])
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines[0] == "Version: 2.5")
        #expect(
            lines[1]
                == "       uid  resource                     held              maxheld              barrier                limit              failcnt"
        )
        #expect(
            lines[2]
                == "      web1: numproc                         3                    3                   64                   64                    5"
        )
        #expect(lines[3].hasPrefix("            physpages                    2560                 5120                32768                32768"))
        #expect(lines[4].hasSuffix(" 9223372036854775807                    0"))
        #expect(lines.last == "")
    }
}

/// numtcpsock's connection limit: the table berth writes and what it reads back.
@Suite struct ConnectionLimitTests {
    /// Both hooks jump to one counting rule: one list of connections, no
    /// set (a set of size 1 left a connection uncounted when two CPUs made
    /// the first element at once).
    @Test func theTableCountsTCPConnectionsInBothDirectionsInOneRule() {
        let ruleset = ConnectionLimit.ruleset(20)
        #expect(ruleset.hasPrefix("add table inet berth_ubc\ndelete table inet berth_ubc\n"))
        #expect(!ruleset.contains("set "))
        #expect(ruleset.components(separatedBy: "ct count over 20").count == 2)
        #expect(ruleset.contains("chain count {\n    meta l4proto tcp ct count over 20 counter reject with tcp reset\n  }"))
        for chain in ["output", "input"] {
            #expect(
                ruleset.contains(
                    "chain \(chain) {\n    type filter hook \(chain) priority filter; policy accept;\n    ct state new meta l4proto tcp jump count\n  }"
                ))
        }
    }

    @Test func theLimitAndRefusalsAreReadFromTheListing() throws {
        let listing = """
            table inet berth_ubc {
            \tchain count {
            \t\tmeta l4proto tcp ct count over 20 counter packets 3 bytes 180 reject with tcp reset
            \t}

            \tchain output {
            \t\ttype filter hook output priority filter; policy accept;
            \t\tct state new meta l4proto tcp jump count
            \t}

            \tchain input {
            \t\ttype filter hook input priority filter; policy accept;
            \t\tct state new meta l4proto tcp jump count
            \t}
            }
            """
        let parsed = try #require(ConnectionLimit.parse(listing))
        #expect(parsed.limit == 20 && parsed.refused == 3)
        // An edited table (a jump gone, a second limit, no counter) is not berth's: drift.
        let input = "\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tct state new meta l4proto tcp jump count\n"
        #expect(ConnectionLimit.parse(listing.replacingOccurrences(of: input, with: "\tchain input {\n")) == nil)
        #expect(
            ConnectionLimit.parse(listing.replacingOccurrences(of: "jump count\n\t}\n}", with: "jump count\n\t\tct count over 30 drop\n\t}\n}"))
                == nil)
        #expect(ConnectionLimit.parse(listing.replacingOccurrences(of: "counter packets 3 bytes 180 ", with: "")) == nil)
        #expect(ConnectionLimit.parse("table inet berth_ubc {\n}") == nil)
    }

    @Test func theLimitIsNumtcpsocksBarrierAndItsRefusalsItsFailcnt() throws {
        var sample = Beancounters.Sample(version: .v1, cgroup: CgroupObservation(), pageSize: 4096)
        sample.sockets = (tcp: 20, other: 0)
        sample.connectionLimit = (limit: 20, refused: 4)
        let row = try #require(Beancounters.rows(sample, recorded: [:]).rows.first { $0.resource == .numtcpsock })
        #expect(row.held == 20 && row.barrier == 20 && row.limit == 20 && row.failcnt == 4)
        #expect(row.sources.limit.contains("ct count"))
    }
}

/// numpty: the max= of the container's devpts instance, read back from
/// its init's mountinfo.
@Suite struct PseudoTerminalLimitTests {
    @Test func theDevptsOptionsCarryMaxOnlyWhenGiven() {
        #expect(ContainerLaunch.devptsOptions(pseudoTerminalLimit: nil) == "newinstance,ptmxmode=0666,mode=0620")
        #expect(ContainerLaunch.devptsOptions(pseudoTerminalLimit: 8) == "newinstance,ptmxmode=0666,mode=0620,max=8")
    }

    @Test func theLimitIsReadFromTheDevptsLineOfMountinfo() {
        let mountinfo = """
            812 811 0:62 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w
            820 812 0:70 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666,max=8
            821 812 0:71 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
            """
        #expect(ContainerLaunch.pseudoTerminalLimit(mountinfo: mountinfo) == 8)
        #expect(ContainerLaunch.pseudoTerminalLimit(mountinfo: mountinfo.replacingOccurrences(of: ",max=8", with: "")) == nil)
        #expect(ContainerLaunch.pseudoTerminalLimit(mountinfo: "") == nil)
        // Optional fields (shared:N) before the separator.
        let shared = "820 812 0:70 / /dev/pts rw,nosuid shared:5 master:2 - devpts devpts rw,mode=620,ptmxmode=666,max=3"
        #expect(ContainerLaunch.pseudoTerminalLimit(mountinfo: shared) == 3)
    }

    @Test func theLimitIsNumptysBarrierAndLimit() throws {
        var sample = Beancounters.Sample(version: .v2, cgroup: CgroupObservation(), pageSize: 4096)
        sample.pseudoTerminals = 2
        let unlimited = try #require(Beancounters.rows(sample, recorded: [:]).rows.first { $0.resource == .numpty })
        #expect(unlimited.limit == Beancounter.unlimited && unlimited.barrier == Beancounter.unlimited)
        sample.pseudoTerminalLimit = 8
        let row = try #require(Beancounters.rows(sample, recorded: [:]).rows.first { $0.resource == .numpty })
        #expect(row.held == 2 && row.barrier == 8 && row.limit == 8 && row.failcnt == 0)
        #expect(row.sources.limit.contains("max="))
    }
}

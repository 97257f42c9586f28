import Testing

@testable import Kernel

/// The effective set from capget(2) is the one /proc/self/status shows.
struct ProcessCapabilitiesTests {
    @Test func theEffectiveSetIsWhatProcShows() throws {
        let status = String(decoding: try Syscall.readFile("/proc/self/status"), as: UTF8.self)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("CapEff:") })
        let shown = UInt64(line.dropFirst("CapEff:".count).trimmingPrefix(while: { $0 == " " || $0 == "\t" }), radix: 16)
        #expect(ProcessCapabilities.effectiveMask == shown)
        #expect(ProcessCapabilities.sysResource == ((try #require(shown)) & (1 << 24) != 0))
    }
}

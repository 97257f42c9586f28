import Foundation
import Kernel
import Testing

@testable import Runtime

/// The image directory's manifest: checksums, what a restore refuses, and
/// the CRIU options berth builds.
@Suite struct CheckpointManifestTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func sha256MatchesTheStandardVectors(_ text: String, _ digest: String) {
        #expect(SHA256.hex(Array(text.utf8)) == digest)
    }

    @Test func sha256OfAMillionAsInChunks() {
        var hash = SHA256()
        for _ in 0..<1000 { hash.update([UInt8](repeating: UInt8(ascii: "a"), count: 1000)) }
        #expect(hash.finalize() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Pieces that end inside a block, or hold more than one, hash as the whole.
    @Test(arguments: [1, 7, 63, 64, 65, 130, 1000])
    func sha256OfPiecesIsTheDigestOfTheWhole(_ piece: Int) {
        let bytes = (0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        var hash = SHA256()
        for start in stride(from: 0, to: bytes.count, by: piece) { hash.update(bytes[start..<min(start + piece, bytes.count)]) }
        #expect(hash.finalize() == SHA256.hex(bytes))
        #expect(SHA256.hex(bytes) == "8b5fc0e9b559acd86a49017943707c53e283f26bb629cb20bce913bac9975c21")  // Python's hashlib
    }

    @Test func mismatchesNameEveryFile() {
        let recorded = ["core-1.img": "aa", "pages-1.img": "bb", "container.json": "cc"]
        #expect(CheckpointManifest.mismatches(recorded: recorded, found: recorded).isEmpty)
        let found = ["core-1.img": "aa", "pages-1.img": "b0", "extra.img": "dd"]
        #expect(
            CheckpointManifest.mismatches(recorded: recorded, found: found) == [
                "container.json: missing", "pages-1.img: checksum b0 instead of bb", "extra.img: not in the manifest",
            ])
    }

    @Test func aChangedImageIsRefusedClearly() throws {
        let directory = NSTemporaryDirectory() + "berth-manifest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("core".utf8).write(to: URL(fileURLWithPath: directory + "/core-1.img"))
        let manifest = CheckpointManifest(
            container: "c1", berthVersion: "0.1.0", kernel: "6.1.0", criu: "3.17.1", initPID: 42, leftRunning: false, spec: nil,
            veths: [CheckpointManifest.Veth(inside: "eth0", host: "vb12345678", bridge: "br-front")],
            hostFiles: [], checksums: try CheckpointManifest.checksums(of: directory))
        try Data(try RecordJSON.encode(manifest)).write(to: URL(fileURLWithPath: directory + "/" + CheckpointManifest.fileName))
        #expect(try CheckpointManifest.load(directory, for: "c1") == manifest)
        #expect(manifest.veths[0].external == "veth[eth0]:vb12345678@br-front")
        func refusal(_ name: String) -> String {
            do {
                _ = try CheckpointManifest.load(directory, for: name)
                return ""
            } catch { return "\(error)" }
        }
        #expect(refusal("c2").contains("holds container c1, not c2"))
        try Data("CORE".utf8).write(to: URL(fileURLWithPath: directory + "/core-1.img"))
        #expect(refusal("c1").contains("does not match its manifest: core-1.img: checksum"))
        #expect(refusal("c1").hasPrefix(directory))
    }

    @Test func aDirectoryWithoutManifestIsNoCheckpoint() {
        #expect(throws: CheckpointError.self) { _ = try CheckpointManifest.load("/nonexistent-berth", for: "c1") }
    }

    @Test func dumpAndRestoreOptions() {
        let dump = ContainerRuntime.dumpOptions(pid: 42, leaveRunning: true, hostFiles: ["file[2a:10]"])
        #expect(dump.pid == 42 && dump.leaveRunning == true && dump.tcpEstablished == true)
        #expect(dump.manageCgroups == true && dump.networkLock == .nftables && dump.external == ["file[2a:10]"])
        let restore = ContainerRuntime.restoreOptions(
            root: "/run/berth/containers/c1/rootfs", cgroup: "berth/c1",
            veths: [CheckpointManifest.Veth(inside: "eth0", host: "vbabcdef01", bridge: "br0")])
        #expect(restore.root == "/run/berth/containers/c1/rootfs" && restore.restoreSibling == true)
        #expect(restore.cgroupRoots == [CRIUOptions.CgroupRoot(path: "/berth/c1")])
        #expect(restore.external == ["veth[eth0]:vbabcdef01@br0"])
    }
}

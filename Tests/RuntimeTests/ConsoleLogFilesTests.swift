import Foundation
import Model
import Testing

@testable import Runtime

#if canImport(Glibc)
    import Glibc
#endif

/// Console logs: copy-and-truncate rotation under a cap, with a writer that
/// keeps its O_APPEND descriptor (as a container's init does).
@Suite struct ConsoleLogFilesTests {
    let directory: String
    let log: ConsoleLogFiles

    init() throws {
        directory = NSTemporaryDirectory() + "berth-console-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        log = ConsoleLogFiles(path: directory + "/console.log")
    }

    func append(_ fd: Int32, _ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }

    func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1 }

    @Test func rotationKeepsEveryFileUnderTheCapAndTheWriterWritesOn() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = open(log.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        #expect(writer >= 0)
        defer { close(writer) }
        let policy = ConsoleLogFiles.Policy(maxSize: ByteSize(bytes: 1000), rotatedFiles: 2)
        var rotations = 0
        for line in 0..<500 {
            append(writer, "line \(String(line).padding(toLength: 4, withPad: " ", startingAt: 0)) of the console\n")  // 25 bytes
            if try log.rotateIfNeeded(policy) { rotations += 1 }
        }
        #expect(rotations >= 10)
        #expect(log.files() == [log.path + ".2", log.path + ".1", log.path])
        // Rotated when over: each file holds the cap and at most one line more.
        for file in log.files() { #expect(size(file) <= 1025, "\(file)") }
        #expect(!FileManager.default.fileExists(atPath: log.path + ".3"))
        // The writer's next line lands at the start of the truncated file.
        let text = log.files().map { (try? String(contentsOfFile: $0, encoding: .utf8)) ?? "" }.joined()
        #expect(text.hasSuffix("line 499  of the console\n"))
        #expect(!text.contains("\0"))
        #expect(String(decoding: log.tail(2), as: UTF8.self) == "line 498  of the console\nline 499  of the console\n")
    }

    /// A log far over the cap (no agent ran for a while): the rotated file
    /// keeps its last four caps' worth, console.log starts empty.
    @Test func aHugeLogKeepsItsLastCapsWorth() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let text = (0..<100_000).map { "line \($0)\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: log.path))
        #expect(try log.rotateIfNeeded(ConsoleLogFiles.Policy(maxSize: ByteSize(bytes: 4096), rotatedFiles: 1)))
        #expect(size(log.path) == 0)
        let kept = try String(contentsOfFile: log.path + ".1", encoding: .utf8)
        #expect(kept.utf8.count == 4 * 4096 && text.hasSuffix(kept))
        #expect(!FileManager.default.fileExists(atPath: log.path + ".1.new"))
    }

    @Test func underTheCapNothingMoves() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("short\n".utf8).write(to: URL(fileURLWithPath: log.path))
        #expect(try !log.rotateIfNeeded(ConsoleLogFiles.Policy(maxSize: ByteSize(bytes: 100), rotatedFiles: 1)))
        #expect(log.files() == [log.path])
    }

    @Test(arguments: [(0, ""), (1, "c"), (2, "b\nc"), (5, "a\nb\nc")] as [(Int, String)])
    func tailCountsAFinalLineWithoutANewline(_ lines: Int, _ expected: String) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("a\nb\nc".utf8).write(to: URL(fileURLWithPath: log.path))
        #expect(String(decoding: log.tail(lines), as: UTF8.self) == expected)
    }

    /// Across files and blocks: console.log empty, the lines in .2 and .1,
    /// more than one 64 KiB block.
    @Test(arguments: [1, 2, 3, 5000, 20000]) func tailReadsBackwardsAcrossFilesAndBlocks(_ lines: Int) throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let all = (0..<12000).map { "line \($0)\n" }
        try Data(all[..<6000].joined().utf8).write(to: URL(fileURLWithPath: log.path + ".2"))
        try Data(all[6000...].joined().utf8).write(to: URL(fileURLWithPath: log.path + ".1"))
        try Data().write(to: URL(fileURLWithPath: log.path))
        #expect(String(decoding: log.tail(lines), as: UTF8.self) == all.suffix(lines).joined())
    }

    @Test func followingReadsOnAndStartsOverAfterARotation() throws {
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data("one\n".utf8).write(to: URL(fileURLWithPath: log.path))
        var (bytes, offset) = log.read(from: 0)
        #expect(bytes == Array("one\n".utf8) && offset == 4)
        (bytes, offset) = log.read(from: offset)
        #expect(bytes.isEmpty && offset == 4)
        try log.rotate(keep: 1)
        try Data("2\n".utf8).write(to: URL(fileURLWithPath: log.path))
        (bytes, offset) = log.read(from: offset)
        #expect(bytes == Array("2\n".utf8) && offset == 2)
    }
}

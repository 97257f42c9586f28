import Testing

@testable import Kernel

/// The protobuf wire format and CRIU's RPC messages, byte for byte (field
/// numbers from CRIU's images/rpc.proto).
@Suite struct CRIUMessageTests {
    @Test(
        arguments: [
            (0, [0x08, 0x00]),
            (1, [0x08, 0x01]),
            (150, [0x08, 0x96, 0x01]),
            (Int32.max, [0x08, 0xff, 0xff, 0xff, 0xff, 0x07]),
            // Negative: sign-extended to 64 bits, ten bytes.
            (-1, [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
        ] as [(Int32, [UInt8])])
    func int32FieldsEncodeAsVarints(_ value: Int32, _ expected: [UInt8]) throws {
        var writer = ProtobufWriter()
        writer.int32(1, value)
        #expect(writer.bytes == expected)
        var reader = ProtobufReader(writer.bytes)
        #expect(try reader.next()?.int32 == value)
        #expect(try reader.next() == nil)
    }

    @Test func stringsAndMessagesAreLengthDelimited() throws {
        var writer = ProtobufWriter()
        writer.string(10, "check.log")
        writer.message(25) { $0.string(2, "/a") }
        // field 10 wire type 2 = 0x52; field 25 = 0xca 0x01.
        #expect(writer.bytes == [0x52, 9] + Array("check.log".utf8) + [0xca, 0x01, 4, 0x12, 2, 0x2f, 0x61])
        var reader = ProtobufReader(writer.bytes)
        #expect(try reader.next()?.string == "check.log")
        let inner = try #require(try reader.next())
        #expect(inner.number == 25)
        var nested = ProtobufReader(inner.data ?? [])
        #expect(try nested.next() == ProtobufReader.Field(number: 2, value: .bytes([0x2f, 0x61])))
    }

    @Test func aCheckRequestWithItsOptions() {
        var options = CRIUOptions()
        options.imagesDirectoryFD = 5
        options.logLevel = 4
        options.logFile = "check.log"
        let request = CRIURequest(type: .check, options: options)
        let opts: [UInt8] = [0x08, 0x05, 0x48, 0x04, 0x52, 0x09] + Array("check.log".utf8)
        #expect(request.encoded == [0x08, 0x03, 0x12, UInt8(opts.count)] + opts)
        #expect(CRIURequest(type: .version).encoded == [0x08, 0x0a])
        #expect(CRIURequest(type: .notify, notifySuccess: true).encoded == [0x08, 0x06, 0x18, 0x01])
    }

    @Test func restoreOptionsCarryRepeatedFields() {
        var options = CRIUOptions()
        options.root = "/r"
        options.external = ["veth[eth0]:vb1@br0", "file[2a:10]"]
        options.inheritFDs = [CRIUOptions.InheritFD(key: "file[2a:10]", fd: 10)]
        options.cgroupRoots = [CRIUOptions.CgroupRoot(path: "/berth/c1")]
        options.restoreSibling = true
        options.networkLock = .nftables
        options.cgroupMode = .soft
        var writer = ProtobufWriter()
        options.encode(into: &writer)
        var reader = ProtobufReader(writer.bytes)
        let fields = (try? reader.fields()) ?? []
        #expect(fields.map(\.number) == [1, 13, 25, 26, 27, 34, 37, 37, 64])
        #expect(fields.first?.int32 == -1)
        #expect(fields.filter { $0.number == 37 }.compactMap(\.string) == ["veth[eth0]:vb1@br0", "file[2a:10]"])
        #expect(fields.first { $0.number == 64 }?.int32 == 2)
        #expect(fields.first { $0.number == 34 }?.int32 == 3)
        var inherit = ProtobufReader(fields.first { $0.number == 27 }?.data ?? [])
        #expect((try? inherit.fields())?.map(\.number) == [1, 2])
    }

    @Test func responsesDecode() throws {
        // restore, success, restore_resp { pid: 42 }
        let restored = try CRIUResponse.decode([0x08, 0x02, 0x10, 0x01, 0x22, 0x02, 0x08, 0x2a])
        #expect(restored.type == .restore && restored.success && restored.restoredPID == 42)
        // check, failure, cr_errno 1, cr_errmsg "no"; an unknown field 99 skipped
        let failed = try CRIUResponse.decode([0x08, 0x03, 0x10, 0x00, 0x38, 0x01, 0x4a, 0x02, 0x6e, 0x6f, 0x98, 0x06, 0x07])
        #expect(failed.type == .check && !failed.success && failed.errno == 1 && failed.errorMessage == "no")
        // notify { script: "post-restore", pid: 7 }
        let script = Array("post-restore".utf8)
        let notify = [0x0a, UInt8(script.count)] + script + [0x10, 0x07]
        let notification = try CRIUResponse.decode([0x08, 0x06, 0x10, 0x01, 0x2a, UInt8(notify.count)] + notify)
        #expect(notification.type == .notify && notification.notifyScript == "post-restore" && notification.notifyPID == 7)
        // version { major 3, minor 17, sublevel 1 }
        let version = try CRIUResponse.decode([0x08, 0x0a, 0x10, 0x01, 0x52, 0x06, 0x08, 0x03, 0x10, 0x11, 0x20, 0x01])
        #expect(version.version?.description == "3.17.1")
    }

    @Test(
        arguments: [
            [0x08],  // varint cut short
            [0x12, 0x05, 0x01],  // length past the end
            [0x0b],  // group start
            [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],  // over 64 bits
            [0x10, 0x01],  // no type
        ] as [[UInt8]])
    func malformedResponsesAreRefused(_ bytes: [UInt8]) {
        #expect(throws: ProtobufError.self) { _ = try CRIUResponse.decode(bytes) }
    }
}

import Testing

@testable import Netlink

/// Generic netlink: the controller's family lookup and VFS_DQUOT's quota
/// warnings, as the kernel lays them out (hand-encoded, commented hex).
@Suite struct GenericNetlinkTests {
    /// CTRL_CMD_NEWFAMILY for VFS_DQUOT: name, id, and its multicast groups
    /// as nested CTRL_ATTR_MCAST_GROUPS (an array of nests).
    static let familyReply = hex(
        """
        01 02 00 00                                          # genlmsghdr: CTRL_CMD_NEWFAMILY, version 2
        0e 00 02 00  56 46 53 5f 44 51 55 4f 54 00 00 00     # CTRL_ATTR_FAMILY_NAME "VFS_DQUOT\\0" + padding
        06 00 01 00  1a 00 00 00                             # CTRL_ATTR_FAMILY_ID 0x1a + padding
        1c 00 07 80                                          # CTRL_ATTR_MCAST_GROUPS, nested, len 28
        18 00 01 80                                          #   group 1, nested, len 24
        08 00 02 00  05 00 00 00                             #     CTRL_ATTR_MCAST_GRP_ID 5
        0b 00 01 00  65 76 65 6e 74 73 00 00                 #     CTRL_ATTR_MCAST_GRP_NAME "events\\0" + padding
        """)

    /// QUOTA_NL_C_WARNING: project 16777300 on 7:3 reached its block hard limit, caused by uid 1000.
    static let warning = hex(
        """
        01 01 00 00                                          # genlmsghdr: QUOTA_NL_C_WARNING, version 1
        08 00 01 00  02 00 00 00                             # QUOTA_NL_A_QTYPE PRJQUOTA
        0c 00 02 00  54 00 00 01 00 00 00 00                 # QUOTA_NL_A_EXCESS_ID 0x1000054
        08 00 03 00  04 00 00 00                             # QUOTA_NL_A_WARNING QUOTA_NL_BHARDWARN
        08 00 04 00  07 00 00 00                             # QUOTA_NL_A_DEV_MAJOR 7
        08 00 05 00  03 00 00 00                             # QUOTA_NL_A_DEV_MINOR 3
        0c 00 06 00  e8 03 00 00 00 00 00 00                 # QUOTA_NL_A_CAUSED_ID 1000
        """)

    @Test func familyRequestAsksTheControllerByName() {
        let (type, flags, payload) = GenericNetlink.getFamily("VFS_DQUOT")
        #expect(type == 0x10 && flags == 0)
        #expect(
            payload
                == hex(
                    """
                    03 02 00 00                                      # CTRL_CMD_GETFAMILY, version 2
                    0e 00 02 00  56 46 53 5f 44 51 55 4f 54 00 00 00 # CTRL_ATTR_FAMILY_NAME "VFS_DQUOT\\0"
                    """))
    }

    @Test func familyReplyGivesTheIdAndTheMulticastGroups() throws {
        let family = try GenericNetlink.decodeFamily(GenericNetlinkTests.familyReply)
        #expect(family == GenericNetlink.Family(name: "VFS_DQUOT", id: 0x1a, groups: ["events": 5]))
    }

    @Test func familyLookupGoesOverTheTransport() throws {
        let transport = ScriptedTransport([
            { request in
                let sequence = request.readLittleEndian(UInt32.self, at: 8) ?? 0
                return NetlinkMessage(type: 0x10, flags: 0, sequence: sequence, payload: GenericNetlinkTests.familyReply).encoded()
            }
        ])
        let family = try GenericNetlink.family("VFS_DQUOT", over: transport)
        #expect(family.groups["events"] == 5)
        #expect(transport.sent.count == 1)
    }

    @Test func aWarningDecodesToItsQuotaDeviceAndRefusedResource() throws {
        let warning = try QuotaWarning.decode(GenericNetlinkTests.warning)
        #expect(
            warning
                == QuotaWarning(type: .project, id: 0x100_0054, kind: .blockHardLimit, deviceMajor: 7, deviceMinor: 3, causedBy: 1000))
        #expect(warning.kind.refused == .space)
        #expect(warning.payload() == GenericNetlinkTests.warning)
    }

    @Test(arguments: [
        (QuotaWarning.Kind.inodeHardLimit, QuotaWarning.Resource?.some(.inodes)), (.inodeSoftLimitExpired, .inodes),
        (.blockSoftLimitExpired, .space), (.blockSoftLimit, nil), (.inodeSoftLimit, nil), (.blockBelowHardLimit, nil), (.none, nil),
    ])
    func onlyHardLimitsAndExpiredGraceCountAsRefusals(kind: QuotaWarning.Kind, refused: QuotaWarning.Resource?) {
        #expect(kind.refused == refused)
    }

    @Test func aDatagramKeepsTheFamilysWarningsAndSkipsOthers() {
        let quota = NetlinkMessage(type: 0x1a, flags: 0, payload: GenericNetlinkTests.warning).encoded()
        let other = NetlinkMessage(type: 0x1b, flags: 0, payload: [1, 1, 0, 0]).encoded()
        let garbled = NetlinkMessage(type: 0x1a, flags: 0, payload: [9, 1, 0, 0]).encoded()
        let (warnings, errors) = QuotaWarning.decode(datagram: quota + other + garbled, family: 0x1a)
        #expect(warnings.count == 1 && errors.count == 1)
        #expect(QuotaWarning.decode(datagram: [0xff, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], family: 0x1a).errors.count == 1)
    }

    /// Every truncation of both messages, and every byte flipped, is an
    /// error or a value: never a crash.
    @Test func truncatedOrGarbledInputIsAnErrorNeverACrash() {
        for message in [GenericNetlinkTests.familyReply, GenericNetlinkTests.warning] {
            for length in 0..<message.count {
                let prefix = Array(message.prefix(length))
                _ = try? GenericNetlink.decodeFamily(prefix)
                _ = try? QuotaWarning.decode(prefix)
            }
            for index in message.indices {
                var flipped = message
                flipped[index] ^= 0xff
                _ = try? GenericNetlink.decodeFamily(flipped)
                _ = try? QuotaWarning.decode(flipped)
            }
        }
        #expect(throws: GenericNetlink.DecodeError.self) { try QuotaWarning.decode(Array(GenericNetlinkTests.warning.prefix(40))) }
        #expect(throws: GenericNetlink.DecodeError.self) { try GenericNetlink.decodeFamily([1, 2]) }
        #expect(throws: GenericNetlink.DecodeError.self) { try GenericNetlink.decodeFamily([1, 2, 0, 0]) }
        // A group entry without its id.
        let noID = hex(
            """
            01 02 00 00  06 00 01 00  1a 00 00 00
            14 00 07 80  10 00 01 80  0b 00 01 00  65 76 65 6e 74 73 00 00
            """)
        #expect(throws: GenericNetlink.DecodeError.self) { try GenericNetlink.decodeFamily(noID) }
    }
}

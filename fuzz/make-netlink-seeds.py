#!/usr/bin/env python3
"""Writes the netlink fuzz target's seeds (fuzz/corpus/netlink/*.bin): kernel
answers as the rtnetlink client expects them, in NetlinkFuzz.swift's input
format: byte 0 picks the request, then datagrams each prefixed by a
little-endian u16 length. The client's first request has sequence number 2."""
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpus" / "netlink"
SEQ = 2


def attr(kind, value):
    data = struct.pack("<HH", 4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def message(kind, payload, seq=SEQ, flags=2):
    data = struct.pack("<IHHII", 16 + len(payload), kind, flags, seq, 4242) + payload
    return data + b"\0" * (-len(data) % 4)


def done(seq=SEQ):
    return message(3, struct.pack("<i", 0), seq)


def error(code, seq=SEQ):
    return message(2, struct.pack("<i", code) + struct.pack("<IHHII", 16, 18, 1, seq, 0), seq)


def link(index, name, family=0, master=None, kind=None, isolated=None, mtu=1500):
    payload = struct.pack("<BBHiII", family, 0, 1, index, 0x1043, 0)
    payload += attr(3, name.encode() + b"\0") + attr(4, struct.pack("<I", mtu))
    payload += attr(1, bytes([0x02, 0x42, 0xAC, 0x11, 0x00, index & 0xFF]))
    payload += attr(20, b"berth:front\0")
    if master is not None:
        payload += attr(10, struct.pack("<I", master))
    if kind is not None:
        payload += attr(18 | 0x8000, attr(1, kind.encode() + b"\0") + attr(2 | 0x8000, attr(1, b"\0\0\0\0")))
    if isolated is not None:
        payload += attr(12 | 0x8000, attr(33, bytes([isolated])))
    return message(16, payload)


def address(index, addr, prefix, family=2):
    payload = struct.pack("<BBBBI", family, prefix, 0, 0, index)
    return message(20, payload + attr(1, addr) + attr(2, addr) + attr(8, b"eth0\0"))


def route(gateway, oif, family=2, table=254):
    payload = struct.pack("<BBBBBBBBI", family, 0, 0, 0, min(table, 255), 4, 0, 1, 0)
    return message(24, payload + attr(15, struct.pack("<I", table)) + attr(5, gateway) + attr(4, struct.pack("<I", oif)))


def seed(name, op, *datagrams):
    data = bytes([op])
    for datagram in datagrams:
        data += struct.pack("<H", len(datagram)) + datagram
    (OUT / f"{name}.bin").write_bytes(data)


OUT.mkdir(parents=True, exist_ok=True)
lo, eth = link(1, "lo", mtu=65536), link(2, "eth0", kind="veth", master=3)
seed("links", 0, lo + eth + link(3, "br-front", kind="bridge"), done())
seed("links-split", 0, lo, eth, done())
seed("links-error", 0, error(-1))
seed("links-other-sequence", 0, link(9, "x") + done(seq=7), lo + done())
seed("bridge-ports", 1, link(2, "veth1", family=7, master=3, isolated=1) + link(3, "br-front", family=7), done())
seed("bridge-ports-master", 2, link(2, "veth1", family=7, master=3, isolated=0) + link(4, "veth2", family=7, master=5, isolated=1), done())
seed("addresses", 3, address(1, bytes([127, 0, 0, 1]), 8) + address(2, bytes([10, 88, 0, 1]), 24), done())
seed("addresses-ipv6", 4, address(2, bytes.fromhex("fd000000000000000000000000000001"), 64, family=10), done())
seed("routes", 5, route(bytes([10, 88, 0, 1]), 2) + route(bytes.fromhex("fd000000000000000000000000000001"), 2, family=10), done())
seed("routes-other-table", 5, route(bytes([10, 0, 0, 1]), 2, table=1000), done())
seed("get-link", 6, link(3, "br-front", kind="bridge"))
seed("get-link-missing", 6, error(-19))
seed("index-of", 7, link(2, "eth0"))
seed("index-of-ack", 7, error(0))
print(f"{len(list(OUT.glob('*.bin')))} seeds in {OUT}")

import Model

/// User namespace id maps, checked as the kernel checks a write to
/// /proc/PID/uid_map and gid_map (user_namespaces(7)), so that a map it would
/// refuse is refused by `berth validate` instead of by `apply`.
extension Reader {
    /// The kernel's limit on lines in one uid_map or gid_map (since Linux 4.15).
    static let maxIDMapRanges = 340
    /// The largest id a range may reach: (uid_t)-1 is never valid.
    static let largestID: UInt64 = 4_294_967_294

    mutating func userNamespace(_ node: Node, _ path: FieldPath) -> UserNamespaceSpec? {
        guard let f = mapping(node, path, fields: ["uidMap", "gidMap"]) else { return nil }
        let ranges: (inout Reader, Node, FieldPath) -> [IDRange]? = { reader, node, path in
            guard let map = reader.list(node, path, minCount: 1, item: { $0.idRange($1, $2) }) else { return nil }
            return reader.checkIDMap(map, node, path) ? map : nil
        }
        let uidMap = f.required("uidMap", &self).flatMap { ranges(&self, $0, path / "uidMap") }
        let gidMap = f.read("gidMap", &self, ranges)
        guard let uidMap else { return nil }
        return UserNamespaceSpec(uidMap: uidMap, gidMap: gidMap)
    }

    mutating func idRange(_ node: Node, _ path: FieldPath) -> IDRange? {
        guard let f = mapping(node, path, fields: ["containerID", "hostID", "size"]) else { return nil }
        let id: (inout Reader, Node, FieldPath) -> UInt32? = { $0.integer($1, $2, in: 0...Int64(Reader.largestID)).map(UInt32.init) }
        let containerID = f.required("containerID", &self).flatMap { id(&self, $0, path / "containerID") }
        let hostID = f.required("hostID", &self).flatMap { id(&self, $0, path / "hostID") }
        let size = f.required("size", &self).flatMap { node in
            integer(node, path / "size", in: 1...Int64(Reader.largestID) + 1).map(UInt32.init)
        }
        guard let containerID, let hostID, let size else { return nil }
        // In 64 bits: two UInt32 values cannot overflow it.
        var ok = true
        for (side, first) in [("container", containerID), ("host", hostID)] where UInt64(first) + UInt64(size) - 1 > Reader.largestID {
            error(node, path, "\(side) ids \(first)-\(UInt64(first) + UInt64(size) - 1) run past the largest id (\(Reader.largestID))")
            ok = false
        }
        return ok ? IDRange(containerID: containerID, hostID: hostID, size: size) : nil
    }

    /// One map's rules: at most 340 ranges, no two overlapping on the
    /// container side or on the host side (the kernel refuses both), and
    /// container root (id 0) mapped (berth's rule: the container's init runs
    /// as root). Reports each offending range by its index; true when clean.
    mutating func checkIDMap(_ map: [IDRange], _ node: Node, _ path: FieldPath) -> Bool {
        let before = errorMark
        let name = path.components.last.map { FieldPath([$0]).description } ?? "map"
        if map.count > Reader.maxIDMapRanges {
            error(node, path, "\(map.count) ranges; the kernel allows at most \(Reader.maxIDMapRanges) (user_namespaces(7))")
        } else if case .sequence(let items) = node.value, items.count == map.count {
            // Pairwise, as the kernel does: at most 340 × 339 / 2 comparisons.
            for (index, range) in map.enumerated() {
                for other in 0..<index {
                    if let side = Reader.overlap(range, map[other]) {
                        error(
                            items[index], path / index,
                            "\(side.name) ids \(side.mine) overlap those of \(name)[\(other)] (\(side.theirs))")
                        break
                    }
                }
            }
        }
        if !map.contains(where: { $0.containerID == 0 }) {
            error(node, path, "container id 0 (root) is not mapped", hint: "add a range with containerID: 0")
        }
        return errorMark == before
    }

    /// The first side on which two ranges share an id, with both spans written out.
    static func overlap(_ a: IDRange, _ b: IDRange) -> (name: String, mine: String, theirs: String)? {
        for (name, first, otherFirst) in [("container", a.containerID, b.containerID), ("host", a.hostID, b.hostID)] {
            let start = UInt64(first)
            let last = start + UInt64(a.size) - 1
            let otherStart = UInt64(otherFirst)
            let otherLast = otherStart + UInt64(b.size) - 1
            if start <= otherLast && otherStart <= last {
                return (name, "\(start)-\(last)", "\(otherStart)-\(otherLast)")
            }
        }
        return nil
    }
}

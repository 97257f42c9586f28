import FoundationEssentials
import Kernel
import Model

/// Inventories, one file per source in `STATE/inventories/` (named by a
/// hash of the source; the source itself is inside): what each set of
/// manifests applied, so that it prunes only its own objects.
extension StateStore {
    public var inventoriesDirectory: String { paths.stateDirectory.string + "/inventories" }

    static func inventoryFile(_ source: String) -> String { String(FNV1a.hash64(source), radix: 16) + ".json" }

    /// Every source's inventory, by source. Unreadable files are skipped:
    /// their objects then belong to no source (never pruned by one).
    public func inventories() -> [String: Inventory] {
        var result: [String: Inventory] = [:]
        for file in Syscall.entryNames(in: inventoriesDirectory) where file.hasSuffix(".json") {
            guard let bytes = try? Syscall.readFile(inventoriesDirectory + "/" + file, limit: 1 << 24),
                let inventory = try? RecordJSON.decodeInventory(from: bytes),
                StateStore.inventoryFile(inventory.source) == file
            else { continue }
            result[inventory.source] = inventory
        }
        return result
    }

    /// Writes a source's inventory (atomically, synced); an empty one is removed.
    public func saveInventory(_ inventory: Inventory) throws {
        let file = inventoriesDirectory + "/" + StateStore.inventoryFile(inventory.source)
        // Temp files a killed writer left (never read: not `.json`).
        Syscall.removeStaleTemporaries(in: inventoriesDirectory)
        if inventory.isEmpty { return try Syscall.removeFile(file, missingOK: true) }
        // Syscalls, not FileManager: its `default` is made at first use
        // (0.1 ms of each apply, on the thread that writes ahead).
        try Syscall.makeDirectories(inventoriesDirectory)
        try Syscall.writeAtomically(try RecordJSON.encode(inventory), to: file)
    }
}

import Kernel
import Model
import Reconcile
import Runtime
import Synchronization

/// A plan's inventory records written ahead: when a plan deletes nothing,
/// what its inventories will say is known before its first action, so they
/// are written (and synced) on a thread of their own while the containers
/// are created, and the inventory action later only waits for that.
///
/// A crash before the creates finish leaves an inventory that names
/// containers not made yet: the next apply makes them, and a name no
/// manifest gives any more is not on the host, so it leaves the inventory
/// (failpoint apply.inventory-ahead). A plan that deletes writes its
/// inventory after the deletes, as before (a delete that did not happen
/// keeps its object in the inventory: Executor).
final class InventoryWriteAhead: Sendable {
    private let pending = Mutex<(inventories: [Inventory], thread: BackgroundThread?)>(([], nil))

    /// Starts writing `plan`'s inventories when none of them deletes.
    func start(_ plan: [Action], state: StateStore) {
        let inventories = plan.compactMap { action -> (Inventory, [ObjectRef])? in
            if case .recordInventory(let inventory, let deleting) = action.operation { return (inventory, deleting) }
            return nil
        }
        let previous = pending.withLock { pending in
            defer { pending = ([], nil) }
            return pending.thread
        }
        try? previous?.wait()
        guard !inventories.isEmpty, inventories.allSatisfy({ $0.1.isEmpty }) else { return }
        let ahead = inventories.map(\.0)
        let thread = BackgroundThread {
            for inventory in ahead { try state.saveInventory(inventory) }
            Failpoint.inventoryAhead.hit()
        }
        pending.withLock { $0 = (ahead, thread) }
    }

    /// Whether `inventory` was written ahead (once its write is done; its
    /// error is thrown).
    func wait(for inventory: Inventory) throws -> Bool {
        guard let thread = pending.withLock({ $0.inventories.contains(inventory) ? $0.thread : nil }) else { return false }
        try thread.wait()
        return true
    }
}

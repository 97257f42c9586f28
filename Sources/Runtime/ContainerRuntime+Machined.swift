import Kernel
import Logging
import Model

#if canImport(Glibc)
    import Glibc
#endif

extension ContainerRuntime {
    /// What machined is told about a started container: its name, its init
    /// as leader, its root and the host sides of its veths.
    func machineRegistration(_ record: ContainerRecord) -> MachineRegistration? {
        guard let pid = record.pid else { return nil }
        let interfaces = (record.spec?.networks ?? []).compactMap { attachment -> Int32? in
            let index = if_nametoindex(NetworkAttacher.hostInterfaceName(container: record.name, network: attachment.network))
            return index == 0 ? nil : Int32(bitPattern: index)
        }
        return MachineRegistration(name: record.name, leader: pid, rootDirectory: record.rootfs, interfaces: interfaces)
    }

    /// Registers a started container with systemd-machined where it runs;
    /// never fails a start: without a bus or machined it is skipped (debug),
    /// and a refusal is a warning.
    func registerMachine(_ record: ContainerRecord) {
        guard let machine = machineRegistration(record) else { return }
        do {
            try Machined.register(machine)
            logger.debug("registered with systemd-machined", metadata: ["container": "\(record.name)"])
        } catch  where error.isAbsent {
            logger.debug("no systemd-machined: not registered", metadata: ["container": "\(record.name)", "error": "\(error)"])
        } catch {
            logger.warning("machined registration failed", metadata: ["container": "\(record.name)", "error": "\(error)"])
        }
    }

    /// Tells machined the container is gone (nothing is stopped by it).
    func unregisterMachine(_ name: String) {
        do {
            try Machined.unregister(name)
        } catch {
            logger.debug("machined unregistration skipped", metadata: ["container": "\(name)", "error": "\(error)"])
        }
    }
}

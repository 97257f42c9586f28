/// The MESSAGE of an event logged with a bare kind ("started"): a sentence
/// a person reads in `journalctl` without -x, from the event's fields.
/// The kind stays in MESSAGE_ID and BERTH_EVENT for machines.
extension EventKind {
    public func sentence(_ fields: [String: String]) -> String {
        func field(_ key: String) -> String { fields[key].flatMap { $0.isEmpty ? nil : $0 } ?? "?" }
        let container = field("container")
        switch self {
        case .started: return "\(container): started (init pid \(field("pid")))"
        case .stopped: return "\(container): stopped"
        case .exec: return "\(container): exec \(field("command")) (uid \(field("user")))"
        case .suspended: return "\(container): suspended"
        case .resumed: return "\(container): resumed"
        case .checkpointed: return "\(container): checkpointed to \(field("directory")) (running: \(field("running")))"
        case .restored: return "\(container): restored from \(field("directory")) (init pid \(field("pid")))"
        case .resourcesUpdated: return "\(container): resources changed live (\(field("writes")) cgroup writes)"
        case .applied: return "\(field("object")): \(field("action")) \(field("result"))"
        case .drift: return "\(field("object")): \(field("field")) drifted to \(field("observed")) (manifest \(field("desired")))"
        case .agentStarted: return "agent started on \(field("manifests")) (interval \(field("interval")))"
        case .agentReconciled:
            return "agent reconciled (\(field("trigger"))): \(field("changes")) change(s), \(field("failures")) failure(s)"
        case .agentStopping: return "agent stopping after \(field("passes")) passes; containers keep running"
        case .manifestsInvalid:
            return "manifests in \(field("manifests")) invalid (\(field("errors")) errors), nothing applied: \(field("error"))"
        case .backOff: return "\(field("object")): backs off for \(field("delay")) after \(field("failures")) failure(s)"
        case .gitUpdateFailed: return "git update of \(field("checkout")) failed: \(field("error"))"
        case .waitingForLock: return "waiting for the lock held by pid \(field("holder"))"
        case .containerExited: return "\(container): init exited (code \(fields["code"] ?? "unknown"))"
        case .adopted: return "\(container): adopted (init pid \(field("pid")))"
        case .networksUpdated: return "\(container): networks changed live"
        case .firewallUpdated: return "\(container): firewall replaced live"
        case .restarting: return "\(container): restarting (exit code \(field("code")), restartPolicy \(field("policy")))"
        case .restartBackOff: return "\(container): keeps ending; next restart in \(field("delay"))"
        case .recordUpdated: return "\(container): record updated"
        case .templateUnpacked: return "template \(field("template")) unpacked in \(field("path"))"
        case .templateBuilt: return "template \(field("template")) built in \(field("path"))"
        case .templateShifted: return "template \(field("lower")) shifted for a user namespace in \(field("path"))"
        case .bridgeCreated: return "Network/\(field("network")): bridge \(field("bridge")) created"
        case .bridgeAdopted: return "Network/\(field("network")): bridge \(field("bridge")) adopted"
        case .bridgeMarked: return "Network/\(field("network")): bridge \(field("bridge")) marked as berth's"
        case .bridgeDeleted: return "Network/\(field("network")): bridge \(field("bridge")) deleted"
        case .networkDeviceReplaced:
            return "Network/\(field("network")): \(field("bridge")) deleted and made again for driver \(field("driver"))"
        case .oldBridgeDeleted: return "Network/\(field("network")): old bridge \(field("bridge")) deleted"
        case .networksAttached: return "\(container): attached to \(field("networks"))"
        case .networkDetached: return "\(container): interface \(field("interface")) detached"
        case .runExited: return "\(container): exited with code \(field("code")) (berth run)"
        case .killing: return "\(container): killing the container (signal \(field("signal")))"
        case .stopTimedOut: return "\(container): stop timed out, killing"
        case .manifestsMissing: return "manifests directory \(field("manifests")) is missing; watching for it"
        case .reloadRequested: return "agent reload requested (SIGHUP): reconciling now"
        case .addressHeld:
            return
                "\(container): address \(field("address")) on network \(field("network")) is held by running container \(field("holder")); "
                + "left alone"
        case .anotherSource: return "\(field("object")): belongs to source \(field("owner")), not the agent's (\(field("source"))); left alone"
        case .checkoutReset:
            return
                "checkout \(field("checkout")) reset from \(field("from").prefix(12)) to \(field("to").prefix(12)): the upstream's history was rewritten"
        case .checkoutLocalChanges:
            return "checkout \(field("checkout")) has local changes (\(field("files"))): not moved to the upstream's \(field("upstream").prefix(12))"
        case .checkoutFollowing: return "checkout \(field("checkout")) follows its upstream again"
        case .machinedRegistrationFailed: return "\(container): not registered with systemd-machined: \(field("error"))"
        case .logRelayRestarted: return "\(container): journal relay started again (pid \(field("pid"))); its output waited in its FIFOs"
        case .logRelayRestartFailed: return "\(container): journal relay could not be started again: \(field("error"))"
        case .manifestsValid: return "manifests in \(field("manifests")) valid again"
        case .beancounterFailed:
            return "\(container): \(field("resource")) refused: failcnt \(field("failcnt")) (was \(field("previous")))"
        case .hostOvercommitted:
            return
                "host \(field("resource")) overcommitted: the containers' limits add up to \(field("committed")), "
                + "\(field("ratio"))× the host's \(field("capacity")) (allowed: \(field("allowed"))×); largest: \(field("largest"))"
        case .overcommitCleared:
            return "host \(field("resource")) no longer overcommitted: the containers' limits are within \(field("allowed"))× the host's"
        case .diskRefusalsNotCounted: return "disk quota refusals (diskspace, diskinodes failcnt) not counted: \(field("error"))"
        case .commitNotRecorded: return "cannot record the applied commit in \(field("path")): \(field("error"))"
        case .trashNotEmptied: return "a deleted container's files in \(field("path")) were not removed: \(field("error"))"
        }
    }
}

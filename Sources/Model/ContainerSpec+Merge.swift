/// Profile merging: mappings merge key by key, scalars and lists from `self`
/// replace those of `base`. `container.merged(over: profile)` lets the
/// container's own values win.
extension ContainerSpec {
    public func merged(over base: ContainerSpec) -> ContainerSpec {
        var result = base
        result.placement = placement ?? base.placement
        result.profiles = profiles ?? base.profiles
        result.state = state ?? base.state
        result.hostname = hostname ?? base.hostname
        result.rootfs = merge(rootfs, base.rootfs) { mine, theirs in
            RootfsSpec(source: mine.source ?? theirs.source, persistent: mine.persistent ?? theirs.persistent)
        }
        result.`init` = merge(`init`, base.`init`) { mine, theirs in
            InitSpec(command: mine.command ?? theirs.command, workingDir: mine.workingDir ?? theirs.workingDir)
        }
        result.env = merge(env, base.env) { mine, theirs in theirs.merging(mine) { _, new in new } }
        result.networks = networks ?? base.networks
        result.resources = merge(resources, base.resources) { $0.merged(over: $1) }
        result.devices = devices ?? base.devices
        result.capabilities = merge(capabilities, base.capabilities) { mine, theirs in
            CapabilitiesSpec(add: mine.add ?? theirs.add, drop: mine.drop ?? theirs.drop)
        }
        result.security = merge(security, base.security) { mine, theirs in
            var security = SecuritySpec()
            security.privileged = mine.privileged ?? theirs.privileged
            security.noNewPrivileges = mine.noNewPrivileges ?? theirs.noNewPrivileges
            security.seccomp = mine.seccomp ?? theirs.seccomp
            security.nestedUserNamespaces = mine.nestedUserNamespaces ?? theirs.nestedUserNamespaces
            return security
        }
        result.proc = merge(proc, base.proc) { mine, theirs in ProcSpec(virtualize: mine.virtualize ?? theirs.virtualize) }
        result.mounts = mounts ?? base.mounts
        result.userNamespace = merge(userNamespace, base.userNamespace) { mine, theirs in
            UserNamespaceSpec(uidMap: mine.uidMap, gidMap: mine.gidMap ?? theirs.gidMap)
        }
        result.restartPolicy = restartPolicy ?? base.restartPolicy
        result.stopTimeout = stopTimeout ?? base.stopTimeout
        result.firewall = merge(firewall, base.firewall) { mine, theirs in
            FirewallSpec(defaultPolicy: mine.defaultPolicy ?? theirs.defaultPolicy, rules: mine.rules ?? theirs.rules)
        }
        result.policy = merge(policy, base.policy) { mine, theirs in ObjectPolicy(drift: mine.drift ?? theirs.drift) }
        result.logs = merge(logs, base.logs) { mine, theirs in LogsSpec(driver: mine.driver ?? theirs.driver) }
        return result
    }
}

extension ResourcesSpec {
    public func merged(over base: ResourcesSpec) -> ResourcesSpec {
        var result = ResourcesSpec()
        result.cpu = merge(cpu, base.cpu) { mine, theirs in
            CPUSpec(weight: mine.weight ?? theirs.weight, limit: mine.limit ?? theirs.limit, cpus: mine.cpus ?? theirs.cpus)
        }
        result.memory = merge(memory, base.memory) { mine, theirs in
            MemorySpec(max: mine.max ?? theirs.max, high: mine.high ?? theirs.high, swap: mine.swap ?? theirs.swap)
        }
        result.pids = merge(pids, base.pids) { mine, theirs in PidsSpec(max: mine.max ?? theirs.max) }
        result.numtcpsock = numtcpsock ?? base.numtcpsock
        result.numpty = numpty ?? base.numpty
        result.numfile = numfile ?? base.numfile
        result.io = merge(io, base.io) { mine, theirs in
            IOSpec(weight: mine.weight ?? theirs.weight, limits: mine.limits ?? theirs.limits)
        }
        result.disk = merge(disk, base.disk) { mine, theirs in
            DiskSpec(size: mine.size ?? theirs.size, inodes: mine.inodes ?? theirs.inodes, userQuota: mine.userQuota ?? theirs.userQuota)
        }
        return result
    }
}

private func merge<T>(_ mine: T?, _ theirs: T?, _ combine: (T, T) -> T) -> T? {
    switch (mine, theirs) {
    case (let mine?, let theirs?): return combine(mine, theirs)
    case (let mine?, nil): return mine
    case (nil, let theirs?): return theirs
    case (nil, nil): return nil
    }
}

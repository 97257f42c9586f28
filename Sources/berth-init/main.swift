// berth-init: the single-threaded helper that finishes a container's set-up
// inside its new namespaces and then execs the container's init.
// The runtime issue fills it in; today it only reports that it is a helper.
#if canImport(Glibc)
    import Glibc
#endif

let message = "berth-init: internal helper of berth; not meant to be run by hand\n"
_ = message.withCString { write(2, $0, strlen($0)) }
exit(2)

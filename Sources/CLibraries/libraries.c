#define _GNU_SOURCE
#include "BerthLibraries.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct library {
    const char *soname;
    pthread_once_t once;
    void *handle;
};

static const char nftables_soname[] = "libnftables.so.1";
static struct library systemd = {"libsystemd.so.0", PTHREAD_ONCE_INIT, NULL};
static struct library cap = {"libcap.so.2", PTHREAD_ONCE_INIT, NULL};
static struct library yaml = {"libyaml-0.so.2", PTHREAD_ONCE_INIT, NULL};
static char library_error[256];

static void open_systemd(void) { systemd.handle = dlopen(systemd.soname, RTLD_NOW | RTLD_LOCAL); }
static void open_cap(void) { cap.handle = dlopen(cap.soname, RTLD_NOW | RTLD_LOCAL); }
static void open_yaml(void) { yaml.handle = dlopen(yaml.soname, RTLD_NOW | RTLD_LOCAL); }

const char *berth_library_error(void) { return library_error; }

// The address of `name` in `library` (opened once, thread-safely), or NULL.
static void *symbol(struct library *library, void (*open)(void), const char *name) {
    pthread_once(&library->once, open);
    void *address = library->handle ? dlsym(library->handle, name) : NULL;
    if (!address) {
        const char *why = dlerror();
        snprintf(library_error, sizeof library_error, "%s: %s", library->soname, why ? why : "cannot be loaded");
    }
    return address;
}

// A wrapper: resolves once (a relaxed atomic pointer; two threads at worst
// both look it up), then calls through. FAILED is returned when it cannot.
#define FORWARD(library, type, name, params, args, failed)                                           \
    type berth_##name params {                                                                         \
        static type(*function) params;                                                                 \
        type(*resolved) params = __atomic_load_n(&function, __ATOMIC_RELAXED);                         \
        if (!resolved) {                                                                               \
            resolved = (type(*) params)symbol(&library, open_##library, #name);                        \
            if (!resolved) return failed;                                                              \
            __atomic_store_n(&function, resolved, __ATOMIC_RELAXED);                                   \
        }                                                                                              \
        return resolved args;                                                                          \
    }
#define FORWARD_VOID(library, name, params, args)                                                      \
    void berth_##name params {                                                                         \
        static void(*function) params;                                                                 \
        void(*resolved) params = __atomic_load_n(&function, __ATOMIC_RELAXED);                         \
        if (!resolved) {                                                                               \
            resolved = (void(*) params)symbol(&library, open_##library, #name);                        \
            if (!resolved) return;                                                                     \
            __atomic_store_n(&function, resolved, __ATOMIC_RELAXED);                                   \
        }                                                                                              \
        resolved args;                                                                                 \
    }

// libnftables can be closed again (berth_nftables_close_idle): it and what
// it loads (libnftnl, libmnl, libxtables, libjansson, libgmp) are about
// 1.4 MiB of the agent's resident memory, used for a moment each pass.
// Its functions are looked up when it is opened, under `lock`, and stay
// valid while a context lives: every other call takes a context, and the
// library is closed only when none does.
static struct {
    pthread_mutex_t lock;
    void *handle;
    unsigned contexts;
    struct nft_ctx *(*ctx_new)(uint32_t flags);
    void (*ctx_free)(struct nft_ctx *context);
    int (*buffer_output)(struct nft_ctx *context);
    int (*buffer_error)(struct nft_ctx *context);
    const char *(*output_buffer)(struct nft_ctx *context);
    const char *(*error_buffer)(struct nft_ctx *context);
    int (*run)(struct nft_ctx *context, const char *commands);
} nft = {.lock = PTHREAD_MUTEX_INITIALIZER};

// Under nft.lock: opens libnftables and looks up its functions; 0 or -1
// (library_error says why; nothing stays open).
static int open_nft_locked(void) {
    if (nft.handle) return 0;
    void *handle = dlopen(nftables_soname, RTLD_NOW | RTLD_LOCAL);
    const char *missing = NULL;
    if (handle) {
#define NFT_LOOKUP(field, name)                                                                                        \
    if (!missing && !(*(void **)&nft.field = dlsym(handle, name))) missing = name;
        NFT_LOOKUP(ctx_new, "nft_ctx_new")
        NFT_LOOKUP(ctx_free, "nft_ctx_free")
        NFT_LOOKUP(buffer_output, "nft_ctx_buffer_output")
        NFT_LOOKUP(buffer_error, "nft_ctx_buffer_error")
        NFT_LOOKUP(output_buffer, "nft_ctx_get_output_buffer")
        NFT_LOOKUP(error_buffer, "nft_ctx_get_error_buffer")
        NFT_LOOKUP(run, "nft_run_cmd_from_buffer")
#undef NFT_LOOKUP
        if (!missing) {
            nft.handle = handle;
            return 0;
        }
        dlclose(handle);
    }
    const char *why = dlerror();
    snprintf(library_error, sizeof library_error, "%s: %s", nftables_soname,
             missing ? missing : (why ? why : "cannot be loaded"));
    return -1;
}

struct nft_ctx *berth_nft_ctx_new(uint32_t flags) {
    pthread_mutex_lock(&nft.lock);
    struct nft_ctx *context = open_nft_locked() == 0 ? nft.ctx_new(flags) : NULL;
    if (context) nft.contexts++;
    pthread_mutex_unlock(&nft.lock);
    return context;
}

void berth_nft_ctx_free(struct nft_ctx *context) {
    if (!context) return;
    nft.ctx_free(context);
    pthread_mutex_lock(&nft.lock);
    nft.contexts--;
    pthread_mutex_unlock(&nft.lock);
}

int berth_nft_ctx_buffer_output(struct nft_ctx *context) { return nft.buffer_output(context); }
int berth_nft_ctx_buffer_error(struct nft_ctx *context) { return nft.buffer_error(context); }
const char *berth_nft_ctx_get_output_buffer(struct nft_ctx *context) { return nft.output_buffer(context); }
const char *berth_nft_ctx_get_error_buffer(struct nft_ctx *context) { return nft.error_buffer(context); }
int berth_nft_run_cmd_from_buffer(struct nft_ctx *context, const char *commands) { return nft.run(context, commands); }

int berth_nftables_close_idle(void) {
    pthread_mutex_lock(&nft.lock);
    int closed = nft.handle && nft.contexts == 0;
    if (closed) {
        dlclose(nft.handle);
        nft.handle = NULL;
    }
    pthread_mutex_unlock(&nft.lock);
    return closed;
}

int berth_nftables_is_open(void) {
    pthread_mutex_lock(&nft.lock);
    int open = nft.handle != NULL;
    pthread_mutex_unlock(&nft.lock);
    return open;
}

FORWARD(systemd, int, sd_notify, (int unset_environment, const char *state), (unset_environment, state), -ELIBACC)
FORWARD(systemd, int, sd_watchdog_enabled, (int unset_environment, uint64_t *usec), (unset_environment, usec), -ELIBACC)
FORWARD(systemd, int, sd_journal_open, (sd_journal * *journal, int flags), (journal, flags), -ELIBACC)
FORWARD_VOID(systemd, sd_journal_close, (sd_journal * journal), (journal))
FORWARD(systemd, int, sd_journal_add_match, (sd_journal * journal, const void *data, size_t size), (journal, data, size),
        -ELIBACC)
FORWARD(systemd, int, sd_journal_add_disjunction, (sd_journal * journal), (journal), -ELIBACC)
FORWARD(systemd, int, sd_journal_seek_realtime_usec, (sd_journal * journal, uint64_t usec), (journal, usec), -ELIBACC)
FORWARD(systemd, int, sd_journal_next, (sd_journal * journal), (journal), -ELIBACC)
FORWARD(systemd, int, sd_journal_get_realtime_usec, (sd_journal * journal, uint64_t *usec), (journal, usec), -ELIBACC)
FORWARD_VOID(systemd, sd_journal_restart_data, (sd_journal * journal), (journal))
FORWARD(systemd, int, sd_journal_enumerate_data, (sd_journal * journal, const void **data, size_t *length),
        (journal, data, length), -ELIBACC)
FORWARD(systemd, int, sd_journal_wait, (sd_journal * journal, uint64_t timeout_usec), (journal, timeout_usec), -ELIBACC)
FORWARD(systemd, int, sd_journal_seek_tail, (sd_journal * journal), (journal), -ELIBACC)
FORWARD(systemd, int, sd_journal_previous_skip, (sd_journal * journal, uint64_t skip), (journal, skip), -ELIBACC)
FORWARD(systemd, int, sd_journal_get_data, (sd_journal * journal, const char *field, const void **data, size_t *length),
        (journal, field, data, length), -ELIBACC)

FORWARD(cap, int, cap_from_name, (const char *name, cap_value_t *value), (name, value), -1)
FORWARD(cap, char *, cap_to_name, (cap_value_t value), (value), NULL)
FORWARD(cap, int, cap_free, (void *object), (object), -1)

FORWARD(yaml, int, yaml_parser_initialize, (yaml_parser_t * parser), (parser), 0)
FORWARD_VOID(yaml, yaml_parser_delete, (yaml_parser_t * parser), (parser))
FORWARD_VOID(yaml, yaml_parser_set_input_string, (yaml_parser_t * parser, const unsigned char *input, size_t size),
             (parser, input, size))
FORWARD_VOID(yaml, yaml_parser_set_encoding, (yaml_parser_t * parser, yaml_encoding_t encoding), (parser, encoding))
FORWARD(yaml, int, yaml_parser_parse, (yaml_parser_t * parser, yaml_event_t *event), (parser, event), 0)
FORWARD_VOID(yaml, yaml_event_delete, (yaml_event_t * event), (event))

// --- systemd-machined (sd-bus) ---------------------------------------------

struct bus_functions {
    int (*open_system)(sd_bus **bus);
    int (*new_method_call)(sd_bus *bus, sd_bus_message **message, const char *destination, const char *path,
                           const char *interface, const char *member);
    int (*append)(sd_bus_message *message, const char *types, ...);
    int (*append_array)(sd_bus_message *message, char type, const void *data, size_t size);
    int (*call)(sd_bus *bus, sd_bus_message *message, uint64_t usec, sd_bus_error *error, sd_bus_message **reply);
    int (*read)(sd_bus_message *message, const char *types, ...);
    void (*error_free)(sd_bus_error *error);
    sd_bus_message *(*message_unref)(sd_bus_message *message);
    sd_bus *(*flush_close_unref)(sd_bus *bus);
};

static int bus_functions(struct bus_functions *f) {
    f->open_system = (int (*)(sd_bus **))symbol(&systemd, open_systemd, "sd_bus_open_system");
    f->new_method_call = (int (*)(sd_bus *, sd_bus_message **, const char *, const char *, const char *, const char *))symbol(
        &systemd, open_systemd, "sd_bus_message_new_method_call");
    f->append = (int (*)(sd_bus_message *, const char *, ...))symbol(&systemd, open_systemd, "sd_bus_message_append");
    f->append_array =
        (int (*)(sd_bus_message *, char, const void *, size_t))symbol(&systemd, open_systemd, "sd_bus_message_append_array");
    f->call = (int (*)(sd_bus *, sd_bus_message *, uint64_t, sd_bus_error *, sd_bus_message **))symbol(&systemd, open_systemd,
                                                                                                       "sd_bus_call");
    f->read = (int (*)(sd_bus_message *, const char *, ...))symbol(&systemd, open_systemd, "sd_bus_message_read");
    f->error_free = (void (*)(sd_bus_error *))symbol(&systemd, open_systemd, "sd_bus_error_free");
    f->message_unref = (sd_bus_message * (*)(sd_bus_message *)) symbol(&systemd, open_systemd, "sd_bus_message_unref");
    f->flush_close_unref = (sd_bus * (*)(sd_bus *)) symbol(&systemd, open_systemd, "sd_bus_flush_close_unref");
    return f->open_system && f->new_method_call && f->append && f->append_array && f->call && f->read && f->error_free &&
                   f->message_unref && f->flush_close_unref
               ? 0
               : -ELIBACC;
}

// The object a call goes to (machined's manager, or systemd's).
struct bus_object {
    const char *destination, *path, *interface;
};

static const struct bus_object machined_manager = {"org.freedesktop.machine1", "/org/freedesktop/machine1",
                                                   "org.freedesktop.machine1.Manager"};
static const struct bus_object systemd_manager = {"org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                  "org.freedesktop.systemd1.Manager"};

// One call on `object`; `fill` appends the arguments, `take` (optional)
// reads the reply.
static int bus_call(const struct bus_object *object, const char *member,
                    int (*fill)(struct bus_functions *, sd_bus_message *, const void *), const void *arguments,
                    int (*take)(struct bus_functions *, sd_bus_message *, void *), void *result, char *error,
                    size_t error_size) {
    struct bus_functions f;
    int r = bus_functions(&f);
    if (r < 0) {
        snprintf(error, error_size, "%s", library_error);
        return r;
    }
    sd_bus *bus = NULL;
    sd_bus_message *message = NULL, *reply = NULL;
    sd_bus_error bus_error = SD_BUS_ERROR_NULL;
    const char *step = "sd_bus_open_system";
    r = f.open_system(&bus);
    if (r >= 0) {
        step = "sd_bus_message_new_method_call";
        r = f.new_method_call(bus, &message, object->destination, object->path, object->interface, member);
    }
    if (r >= 0) {
        step = "append";
        r = fill(&f, message, arguments);
    }
    if (r >= 0) {
        step = member;
        r = f.call(bus, message, 5 * 1000 * 1000, &bus_error, &reply);
    }
    if (r >= 0 && take) {
        step = "reading the reply";
        r = take(&f, reply, result);
    }
    if (r < 0) {
        if (bus_error.name) {
            snprintf(error, error_size, "%s: %s: %s", member, bus_error.name, bus_error.message ? bus_error.message : "");
        } else {
            snprintf(error, error_size, "%s: %s", step, strerror(-r));
        }
    }
    f.error_free(&bus_error);
    if (reply) f.message_unref(reply);
    if (message) f.message_unref(message);
    if (bus) f.flush_close_unref(bus);
    return r < 0 ? r : 0;
}

struct registration {
    const char *name, *service, *machine_class, *root;
    uint32_t leader;
    const int32_t *ifindices;
    size_t count;
};

static int fill_registration(struct bus_functions *f, sd_bus_message *message, const void *arguments) {
    const struct registration *a = arguments;
    int r = f->append(message, "s", a->name);
    if (r >= 0) r = f->append_array(message, 'y', NULL, 0);
    if (r >= 0) r = f->append(message, "ssus", a->service, a->machine_class, a->leader, a->root);
    if (r >= 0) r = f->append_array(message, 'i', a->ifindices, a->count * sizeof(int32_t));
    return r;
}

static int fill_name(struct bus_functions *f, sd_bus_message *message, const void *arguments) {
    return f->append(message, "s", (const char *)arguments);
}

int berth_machine_register(const char *name, const char *service, const char *machine_class, uint32_t leader,
                           const char *root_directory, const int32_t *ifindices, size_t count, char *error,
                           size_t error_size) {
    struct registration arguments = {name, service, machine_class, root_directory, leader, ifindices, count};
    return bus_call(&machined_manager, "RegisterMachineWithNetwork", fill_registration, &arguments, NULL, NULL, error,
                    error_size);
}

int berth_machine_unregister(const char *name, char *error, size_t error_size) {
    return bus_call(&machined_manager, "UnregisterMachine", fill_name, name, NULL, NULL, error, error_size);
}

// --- systemd's manager (sd-bus): the systemd cgroup driver's scopes ----------

struct scope {
    const char *unit, *slice, *description;
    uint32_t pid;
    uint64_t cpu_weight, io_weight;
};

// StartTransientUnit(name, mode, properties, auxiliary units).
static int fill_scope(struct bus_functions *f, sd_bus_message *message, const void *arguments) {
    const struct scope *a = arguments;
    int r = f->append(message, "ss", a->unit, "fail");
    if (r >= 0)
        r = f->append(message, "a(sv)", 8, "Description", "s", a->description, "Slice", "s", a->slice, "Delegate", "b", 1,
                      "TasksMax", "t", UINT64_MAX, "CollectMode", "s", "inactive-or-failed", "PIDs", "au", 1, a->pid,
                      "CPUWeight", "t", a->cpu_weight, "IOWeight", "t", a->io_weight);
    if (r >= 0) r = f->append(message, "a(sa(sv))", 0);
    return r;
}

int berth_systemd_start_scope(const char *unit, const char *slice, const char *description, uint32_t pid,
                              uint64_t cpu_weight, uint64_t io_weight, char *error, size_t error_size) {
    struct scope arguments = {unit, slice, description, pid, cpu_weight, io_weight};
    return bus_call(&systemd_manager, "StartTransientUnit", fill_scope, &arguments, NULL, NULL, error, error_size);
}

// SetUnitProperties(name, runtime, properties).
static int fill_weights(struct bus_functions *f, sd_bus_message *message, const void *arguments) {
    const struct scope *a = arguments;
    return f->append(message, "sba(sv)", a->unit, 1, 2, "CPUWeight", "t", a->cpu_weight, "IOWeight", "t", a->io_weight);
}

int berth_systemd_set_weights(const char *unit, uint64_t cpu_weight, uint64_t io_weight, char *error,
                              size_t error_size) {
    struct scope arguments = {unit, NULL, NULL, 0, cpu_weight, io_weight};
    return bus_call(&systemd_manager, "SetUnitProperties", fill_weights, &arguments, NULL, NULL, error, error_size);
}

static int fill_stop(struct bus_functions *f, sd_bus_message *message, const void *arguments) {
    return f->append(message, "ss", (const char *)arguments, "replace");
}

int berth_systemd_stop_unit(const char *unit, char *error, size_t error_size) {
    return bus_call(&systemd_manager, "StopUnit", fill_stop, unit, NULL, NULL, error, error_size);
}

// org.freedesktop.DBus.Properties.Get(interface, property) of a string.
static int fill_property(struct bus_functions *f, sd_bus_message *message, const void *arguments) {
    return f->append(message, "ss", systemd_manager.interface, (const char *)arguments);
}

struct text {
    char *buffer;
    size_t size;
};

static int take_string(struct bus_functions *f, sd_bus_message *reply, void *result) {
    struct text *text = result;
    const char *value = NULL;
    int r = f->read(reply, "v", "s", &value);
    if (r < 0) return r;
    if (!value || strlen(value) >= text->size) return -ENAMETOOLONG;
    snprintf(text->buffer, text->size, "%s", value);
    return 0;
}

int berth_systemd_control_group(char *group, size_t group_size, char *error, size_t error_size) {
    static const struct bus_object properties = {"org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                                 "org.freedesktop.DBus.Properties"};
    struct text text = {group, group_size};
    return bus_call(&properties, "Get", fill_property, "ControlGroup", take_string, &text, error, error_size);
}

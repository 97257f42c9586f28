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

static struct library nftables = {"libnftables.so.1", PTHREAD_ONCE_INIT, NULL};
static struct library systemd = {"libsystemd.so.0", PTHREAD_ONCE_INIT, NULL};
static struct library cap = {"libcap.so.2", PTHREAD_ONCE_INIT, NULL};
static struct library yaml = {"libyaml-0.so.2", PTHREAD_ONCE_INIT, NULL};
static char library_error[256];

static void open_nftables(void) { nftables.handle = dlopen(nftables.soname, RTLD_NOW | RTLD_LOCAL); }
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

FORWARD(nftables, struct nft_ctx *, nft_ctx_new, (uint32_t flags), (flags), NULL)
FORWARD_VOID(nftables, nft_ctx_free, (struct nft_ctx * context), (context))
FORWARD(nftables, int, nft_ctx_buffer_output, (struct nft_ctx * context), (context), -1)
FORWARD(nftables, int, nft_ctx_buffer_error, (struct nft_ctx * context), (context), -1)
FORWARD(nftables, const char *, nft_ctx_get_output_buffer, (struct nft_ctx * context), (context), NULL)
FORWARD(nftables, const char *, nft_ctx_get_error_buffer, (struct nft_ctx * context), (context), NULL)
FORWARD(nftables, int, nft_run_cmd_from_buffer, (struct nft_ctx * context, const char *commands), (context, commands), -1)

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

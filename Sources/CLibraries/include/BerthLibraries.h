// The system libraries berth calls (libnftables, libsystemd, libcap,
// libyaml), opened on first use (dlopen) instead of linked: loading them and
// their dependencies (libgcrypt, liblzma, libzstd, liblz4, libxtables,
// libgmp, libjansson...) cost every berth command about 1.5 ms of start-up,
// and most commands (run, start, stop, exec, list) use few or none.
// Each wrapper has the signature of the function it stands for. When the
// library cannot be loaded: NULL from berth_nft_ctx_new and cap_to_name,
// -ELIBACC from the sd_ functions, -1 from cap_from_name and cap_free,
// 0 (failure) from the yaml_ ones; berth_library_error() says why.
#ifndef BERTH_LIBRARIES_H
#define BERTH_LIBRARIES_H

// <sys/types.h> first, in the default feature environment, as Swift's
// Glibc module sees it (a library header defining feature macros first
// would give fd_set another shape here).
#include <sys/types.h>

#include <nftables/libnftables.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/capability.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-journal.h>
#include <yaml.h>

// The dlopen error of the library that last failed to load ("" when none did).
const char *berth_library_error(void);

struct nft_ctx *berth_nft_ctx_new(uint32_t flags);
void berth_nft_ctx_free(struct nft_ctx *context);
int berth_nft_ctx_buffer_output(struct nft_ctx *context);
int berth_nft_ctx_buffer_error(struct nft_ctx *context);
const char *berth_nft_ctx_get_output_buffer(struct nft_ctx *context);
const char *berth_nft_ctx_get_error_buffer(struct nft_ctx *context);
int berth_nft_run_cmd_from_buffer(struct nft_ctx *context, const char *commands);
// Closes libnftables (and what it loaded) when no context is alive: 1 when
// it did, 0 when it was not open or a context lives. The next
// berth_nft_ctx_new opens it again. For a long-running process between
// uses (the agent between passes).
int berth_nftables_close_idle(void);
// Whether libnftables is open now (tests).
int berth_nftables_is_open(void);

int berth_sd_notify(int unset_environment, const char *state);
int berth_sd_watchdog_enabled(int unset_environment, uint64_t *usec);
int berth_sd_journal_open(sd_journal **journal, int flags);
void berth_sd_journal_close(sd_journal *journal);
int berth_sd_journal_add_match(sd_journal *journal, const void *data, size_t size);
int berth_sd_journal_add_disjunction(sd_journal *journal);
int berth_sd_journal_seek_realtime_usec(sd_journal *journal, uint64_t usec);
int berth_sd_journal_next(sd_journal *journal);
int berth_sd_journal_get_realtime_usec(sd_journal *journal, uint64_t *usec);
void berth_sd_journal_restart_data(sd_journal *journal);
int berth_sd_journal_enumerate_data(sd_journal *journal, const void **data, size_t *length);
int berth_sd_journal_wait(sd_journal *journal, uint64_t timeout_usec);
int berth_sd_journal_seek_tail(sd_journal *journal);
int berth_sd_journal_previous_skip(sd_journal *journal, uint64_t skip);
int berth_sd_journal_get_data(sd_journal *journal, const char *field, const void **data, size_t *length);

// systemd-machined over the system bus (sd_bus_open_system: the bus
// DBUS_SYSTEM_BUS_ADDRESS names, else /run/dbus/system_bus_socket). Here
// because sd_bus_message_append is variadic, which Swift cannot call.
// RegisterMachineWithNetwork(name, id: empty (machined picks none), service,
// class, leader, root_directory, ifindices): 0, or a negative errno with
// `error` holding the D-Bus error name and message (or the failing call).
int berth_machine_register(const char *name, const char *service, const char *machine_class, uint32_t leader,
                           const char *root_directory, const int32_t *ifindices, size_t count, char *error,
                           size_t error_size);
// UnregisterMachine(name): machined forgets the machine and stops nothing
// (TerminateMachine would stop the unit the leader runs in, which is
// berth's own where it is any). 0, or a negative errno with `error`.
int berth_machine_unregister(const char *name, char *error, size_t error_size);

// systemd's manager over the system bus, for the systemd cgroup driver.
// StartTransientUnit of a scope: `unit` in `slice`, Delegate=yes,
// TasksMax=infinity, CollectMode=inactive-or-failed, PIDs=`pid`, and the
// weights (UINT64_MAX: systemd's default). 0 once the job is queued, or a
// negative errno with `error`.
int berth_systemd_start_scope(const char *unit, const char *slice, const char *description, uint32_t pid,
                              uint64_t cpu_weight, uint64_t io_weight, char *error, size_t error_size);
// SetUnitProperties(unit, runtime: true, CPUWeight, IOWeight).
int berth_systemd_set_weights(const char *unit, uint64_t cpu_weight, uint64_t io_weight, char *error,
                              size_t error_size);
// StopUnit(unit, "replace").
int berth_systemd_stop_unit(const char *unit, char *error, size_t error_size);
// The manager's ControlGroup property (its root cgroup: "" or "/" for PID 1).
int berth_systemd_control_group(char *group, size_t group_size, char *error, size_t error_size);

int berth_cap_from_name(const char *name, cap_value_t *value);
char *berth_cap_to_name(cap_value_t value);
int berth_cap_free(void *object);

int berth_yaml_parser_initialize(yaml_parser_t *parser);
void berth_yaml_parser_delete(yaml_parser_t *parser);
void berth_yaml_parser_set_input_string(yaml_parser_t *parser, const unsigned char *input, size_t size);
void berth_yaml_parser_set_encoding(yaml_parser_t *parser, yaml_encoding_t encoding);
int berth_yaml_parser_parse(yaml_parser_t *parser, yaml_event_t *event);
void berth_yaml_event_delete(yaml_event_t *event);

#endif

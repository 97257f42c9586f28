// The journal relay (BerthRelay.h says why it is a process, and in C).
#define _GNU_SOURCE
#include "BerthRelay.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
    LINE_BYTES = 16384,
    PREFIX_BYTES = 8192,
    DATAGRAM_BYTES = PREFIX_BYTES + LINE_BYTES + 64,
    RETRY_MS = 50,
};

static int valid_name(const char *name, size_t length) {
    if (length == 0 || length > 64 || name[0] == '_' || (name[0] >= '0' && name[0] <= '9')) return 0;
    for (size_t i = 0; i < length; i++) {
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

static char *put_binary(char *p, const char *name, size_t name_length, const char *value, size_t value_length) {
    memcpy(p, name, name_length);
    p += name_length;
    *p++ = '\n';
    uint64_t little = htole64((uint64_t)value_length);
    memcpy(p, &little, sizeof little);
    p += sizeof little;
    memcpy(p, value, value_length);
    p += value_length;
    *p++ = '\n';
    return p;
}

int berth_relay_add_field(char *prefix, size_t *length, size_t size, const char *assignment) {
    const char *equals = strchr(assignment, '=');
    if (!equals) return -1;
    size_t name_length = (size_t)(equals - assignment);
    if (!valid_name(assignment, name_length)) return -1;
    size_t value_length = strlen(equals + 1);
    size_t need = name_length + 1 + 8 + value_length + 1;
    if (need > size || *length > size - need) return -1;
    put_binary(prefix + *length, assignment, name_length, equals + 1, value_length);
    *length += need;
    return 0;
}

size_t berth_relay_frame(const char *prefix, size_t prefix_length, int priority, const char *line, size_t length, char *out,
                         size_t size) {
    size_t need = prefix_length + 11 + 8 + 8 + length + 1;
    if (priority < 0 || priority > 7 || need > size) return 0;
    char *p = out;
    memcpy(p, prefix, prefix_length);
    p += prefix_length;
    memcpy(p, "PRIORITY=", 9);
    p += 9;
    *p++ = (char)('0' + priority);
    *p++ = '\n';
    p = put_binary(p, "MESSAGE", 7, line, length);
    return (size_t)(p - out);
}

struct stream {
    int fd;
    int priority;
    size_t used;
    char buffer[LINE_BYTES];
};

struct relay {
    int socket;
    struct sockaddr_un address;
    socklen_t address_length;
    const char *fallback;
    long patience_ms;
    // Since when journald has refused (-1: it takes entries).
    long long failing_since;
    // Past the patience: lines go to the fallback file, journald is tried once per line.
    int falling_back;
    size_t prefix_length;
    char prefix[PREFIX_BYTES];
    char datagram[DATAGRAM_BYTES];
};

static long long now_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void write_all(int fd, const char *bytes, size_t length) {
    while (length > 0) {
        ssize_t written = write(fd, bytes, length);
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) return;
        bytes += written;
        length -= (size_t)written;
    }
}

// The line in the fallback file (opened per line: the agent rotates it).
static void append_fallback(struct relay *relay, const char *line, size_t length) {
    int fd = open(relay->fallback, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
    if (fd < 0) return;
    write_all(fd, line, length);
    write_all(fd, "\n", 1);
    close(fd);
}

static int transient(int error) {
    return error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS || error == ENOENT || error == ECONNREFUSED ||
           error == ENOTDIR;
}

static void deliver(struct relay *relay, int priority, const char *line, size_t length) {
    size_t size =
        berth_relay_frame(relay->prefix, relay->prefix_length, priority, line, length, relay->datagram, sizeof relay->datagram);
    while (size > 0) {
        ssize_t sent = sendto(relay->socket, relay->datagram, size, MSG_NOSIGNAL | MSG_DONTWAIT,
                              (const struct sockaddr *)&relay->address, relay->address_length);
        if (sent >= 0) {
            relay->failing_since = -1;
            relay->falling_back = 0;
            return;
        }
        int error = errno;
        if (error == EINTR) continue;
        if (!transient(error) || relay->falling_back) break;
        long long now = now_ms();
        if (relay->failing_since < 0) relay->failing_since = now;
        if (now - relay->failing_since >= relay->patience_ms) {
            relay->falling_back = 1;
            break;
        }
        // journald restarts or stalls: the FIFO holds what comes meanwhile.
        poll(NULL, 0, RETRY_MS);
    }
    append_fallback(relay, line, length);
}

// Every complete line in the stream's buffer; a full buffer without a
// newline as one line; at end of file, what is left.
static void drain(struct relay *relay, struct stream *stream, int at_end) {
    size_t start = 0;
    while (start < stream->used) {
        char *newline = memchr(stream->buffer + start, '\n', stream->used - start);
        if (!newline) break;
        size_t end = (size_t)(newline - stream->buffer);
        deliver(relay, stream->priority, stream->buffer + start, end - start);
        start = end + 1;
    }
    if (start > 0) {
        memmove(stream->buffer, stream->buffer + start, stream->used - start);
        stream->used -= start;
    }
    if (stream->used > 0 && (at_end || stream->used == sizeof stream->buffer)) {
        deliver(relay, stream->priority, stream->buffer, stream->used);
        stream->used = 0;
    }
}

static void relay_loop(struct relay *relay, struct stream *streams) {
    for (;;) {
        struct pollfd fds[2];
        int open_count = 0;
        for (int i = 0; i < 2; i++) {
            fds[i].fd = streams[i].fd;
            fds[i].events = POLLIN;
            fds[i].revents = 0;
            if (streams[i].fd >= 0) open_count++;
        }
        if (open_count == 0) return;
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (int i = 0; i < 2; i++) {
            struct stream *stream = &streams[i];
            if (stream->fd < 0 || fds[i].revents == 0) continue;
            ssize_t count = read(stream->fd, stream->buffer + stream->used, sizeof stream->buffer - stream->used);
            if (count < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (count > 0) {
                stream->used += (size_t)count;
                drain(relay, stream, 0);
                continue;
            }
            // End of file (every writer gone) or a read error.
            drain(relay, stream, 1);
            close(stream->fd);
            stream->fd = -1;
        }
    }
}

void berth_helper_detach(void) {
    setsid();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    dprintf(STDOUT_FILENO, "%d\n", (int)getpid());
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) close(null);
    }
    // Nothing of the directory it was started from is kept busy.
    if (chdir("/") != 0) {
        // Not fatal: every path it uses is absolute.
    }
}

int berth_helper_fail(const char *what, const char *subject, int error) {
    dprintf(STDOUT_FILENO, "error: %s %s: %s\n", what, subject ? subject : "", error ? strerror(error) : "invalid");
    return 1;
}

static int fail(const char *what, const char *subject, int error) { return berth_helper_fail(what, subject, error); }

int berth_journal_relay_main(int argc, char **argv) {
    // Static: the relay's whole state is this (about 74 KiB), no heap.
    static struct relay relay;
    static struct stream streams[2];
    const char *paths[2] = {NULL, NULL};
    const char *socket_path = NULL;
    relay.patience_ms = 10000;
    relay.failing_since = -1;
    for (int i = 2; i < argc; i++) {
        const char *argument = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argument, "--stdout") == 0 && value) {
            paths[0] = value;
            i++;
        } else if (strcmp(argument, "--stderr") == 0 && value) {
            paths[1] = value;
            i++;
        } else if (strcmp(argument, "--socket") == 0 && value) {
            socket_path = value;
            i++;
        } else if (strcmp(argument, "--fallback") == 0 && value) {
            relay.fallback = value;
            i++;
        } else if (strcmp(argument, "--patience-ms") == 0 && value) {
            relay.patience_ms = strtol(value, NULL, 10);
            i++;
        } else if (berth_relay_add_field(relay.prefix, &relay.prefix_length, sizeof relay.prefix, argument) != 0) {
            return fail("field", argument, 0);
        }
    }
    if (!paths[0] || !paths[1] || !socket_path || !relay.fallback) {
        return fail("usage:", "journal-relay --stdout FIFO --stderr FIFO --socket PATH --fallback FILE FIELD=VALUE...", 0);
    }
    if (strlen(socket_path) >= sizeof relay.address.sun_path) return fail("socket path", socket_path, ENAMETOOLONG);
    relay.address.sun_family = AF_UNIX;
    strcpy(relay.address.sun_path, socket_path);
    relay.address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(socket_path) + 1);
    for (int i = 0; i < 2; i++) {
        // Non-blocking: opening a FIFO for reading then never waits for a writer.
        streams[i].fd = open(paths[i], O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (streams[i].fd < 0) return fail("open", paths[i], errno);
        streams[i].priority = i == 0 ? 6 : 3;
    }
    relay.socket = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (relay.socket < 0) return fail("socket", socket_path, errno);
    // As sd-journal does: room for a burst while journald is busy.
    int buffer = 8 << 20;
    setsockopt(relay.socket, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);

    // A single-threaded process (berth's main called here first): fork is safe.
    pid_t child = fork();
    if (child < 0) return fail("fork", "", errno);
    if (child > 0) return 0;
    berth_helper_detach();
    relay_loop(&relay, streams);
    _exit(0);
}

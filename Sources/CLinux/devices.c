#define _GNU_SOURCE
#include "BerthDevices.h"

#include <errno.h>
#include <linux/bpf.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define INSN(code_, dst_, src_, off_, imm_) \
    ((struct bpf_insn){.code = (code_), .dst_reg = (dst_), .src_reg = (src_), .off = (off_), .imm = (imm_)})

enum { MAX_RULES = 256, PER_RULE = 8, PROLOGUE = 6 };

int berth_device_program_load(const struct berth_device_rule *rules, int count, char *log, size_t log_size) {
    if (count < 0 || count > MAX_RULES) {
        errno = E2BIG;
        return -1;
    }
    struct bpf_insn program[PROLOGUE + MAX_RULES * PER_RULE + 2];
    int n = 0;
    // r2 = type, r3 = access, r4 = major, r5 = minor (struct bpf_cgroup_dev_ctx).
    program[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0);
    program[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xFFFF);
    program[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_3, BPF_REG_1, 0, 0);
    program[n++] = INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
    program[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0);
    program[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0);
    for (int i = 0; i < count; i++) {
        const struct berth_device_rule *rule = &rules[i];
        int wildcard = rule->minor < 0;
        // Instructions of this block after each check: a failed check jumps past the block.
        int block = wildcard ? 7 : 8;
        int at = 0;
        int type = rule->is_block ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
        program[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, (short)(block - ++at), type);
        // Every requested access bit must be allowed: (access & ~allowed) == 0.
        program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
        at++;
        program[n++] = INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int)(~rule->access & 0x7));
        at++;
        program[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, (short)(block - ++at), 0);
        program[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, (short)(block - ++at), (int)rule->major);
        if (!wildcard) program[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, (short)(block - ++at), rule->minor);
        program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
        program[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    }
    program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
    program[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);

    static const char license[] = "Apache-2.0";
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (unsigned long)program;
    attr.insn_cnt = (unsigned int)n;
    attr.license = (unsigned long)license;
    if (log && log_size) {
        log[0] = '\0';
        attr.log_buf = (unsigned long)log;
        attr.log_size = (unsigned int)log_size;
        attr.log_level = 1;
    }
    int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    if (fd < 0 && errno == ENOSPC && log) {
        // The log was too small; load again without it to get the real result.
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    }
    return fd;
}

int berth_device_program_attach(int program_fd, int cgroup_fd) {
    union bpf_attr attr;
    // Detach what berth attached before (none on a new cgroup: ENOENT is fine).
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (unsigned int)cgroup_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (syscall(SYS_bpf, BPF_PROG_DETACH, &attr, sizeof attr) != 0 && errno != ENOENT) return -1;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (unsigned int)cgroup_fd;
    attr.attach_bpf_fd = (unsigned int)program_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    return (int)syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof attr);
}

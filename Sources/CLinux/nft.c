#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <nftables/libnftables.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct nft_job {
    int netns_fd;
    const char *commands;
    char *output;
    int result;
    int error;
};

static void *nft_thread(void *argument) {
    struct nft_job *job = argument;
    // setns(CLONE_NEWNET) changes only this thread, which ends afterwards;
    // libnftables' netlink socket is opened here, so inside the namespace.
    if (setns(job->netns_fd, CLONE_NEWNET) != 0) {
        job->error = errno;
        return NULL;
    }
    struct nft_ctx *context = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!context) {
        job->error = ENOMEM;
        return NULL;
    }
    nft_ctx_buffer_output(context);
    nft_ctx_buffer_error(context);
    job->result = nft_run_cmd_from_buffer(context, job->commands);
    const char *text = job->result == 0 ? nft_ctx_get_output_buffer(context) : nft_ctx_get_error_buffer(context);
    job->output = strdup(text ? text : "");
    nft_ctx_free(context);
    return NULL;
}

int berth_nft_run_in_netns(int netns_fd, const char *commands, char **output) {
    struct nft_job job = {netns_fd, commands, NULL, -1, 0};
    *output = NULL;
    pthread_t thread;
    int code = pthread_create(&thread, NULL, nft_thread, &job);
    if (code != 0) {
        errno = code;
        return -1;
    }
    pthread_join(thread, NULL);
    if (job.error != 0) {
        free(job.output);
        errno = job.error;
        return -1;
    }
    *output = job.output;
    return job.result == 0 ? 0 : 1;
}

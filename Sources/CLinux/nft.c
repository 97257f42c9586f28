#define _GNU_SOURCE
#include "CLinux.h"
#include "BerthLibraries.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct nft_job {
    const char *commands;
    char *output;
    int result;
};

// Runs on the thread berth_in_netns made: libnftables opens its netlink
// socket here, so inside the namespace.
static void run_nft(void *argument) {
    struct nft_job *job = argument;
    struct nft_ctx *context = berth_nft_ctx_new(NFT_CTX_DEFAULT);
    if (!context) {
        job->output = strdup(berth_library_error());
        return;
    }
    berth_nft_ctx_buffer_output(context);
    berth_nft_ctx_buffer_error(context);
    job->result = berth_nft_run_cmd_from_buffer(context, job->commands);
    const char *text = job->result == 0 ? berth_nft_ctx_get_output_buffer(context) : berth_nft_ctx_get_error_buffer(context);
    job->output = strdup(text ? text : "");
    berth_nft_ctx_free(context);
}

int berth_nft_run_in_netns(int netns_fd, const char *commands, char **output) {
    struct nft_job job = {commands, NULL, -1};
    *output = NULL;
    if (berth_in_netns(netns_fd, run_nft, &job) != 0) return -1;
    if (!job.output) {
        errno = ENOMEM;
        return -1;
    }
    *output = job.output;
    return job.result == 0 ? 0 : 1;
}

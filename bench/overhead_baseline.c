// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Bench only: attaches the empty programs of overhead_baseline.bpf.c (tc ingress and egress on
 * IFNAME, the three tracepoints) until SIGTERM/SIGINT, then detaches them. The tc programs go
 * where the exporter's go with --bpf.tc-attach=auto: tcx links where the kernel has them (the
 * link dies with the process), else clsact filters.
 *
 *   overhead_baseline IFNAME     prints "ready tcx" or "ready clsact" once everything is attached
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "overhead_baseline.skel.h"

#define BASE_TC_HANDLE 0x62617365u /* "base" */
#define BASE_TC_PRIORITY 1

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* uapi values from Linux 6.6 (BPF_TCX_INGRESS, BPF_TCX_EGRESS, BPF_F_BEFORE), as in
 * exporter/tcx_link.cpp: our headers predate tcx. */
#define BASE_TCX_INGRESS 46
#define BASE_TCX_EGRESS 47
#define BASE_F_BEFORE 8

static int tcx_links[2] = {-1, -1};

static int tcx_supported(int prog_fd) {
    int fd = bpf_link_create(prog_fd, 0, (enum bpf_attach_type)BASE_TCX_INGRESS, NULL);
    if (fd >= 0)
        close(fd);
    return fd < 0 && errno == ENODEV;
}

static int tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd, int tcx) {
    if (tcx) {
        int i = where == BPF_TC_INGRESS ? 0 : 1;
        DECLARE_LIBBPF_OPTS(bpf_link_create_opts, lo, .flags = BASE_F_BEFORE);
        tcx_links[i] = bpf_link_create(
            prog_fd, ifindex, (enum bpf_attach_type)(i == 0 ? BASE_TCX_INGRESS : BASE_TCX_EGRESS),
            &lo);
        return tcx_links[i] < 0 ? -errno : 0;
    }
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BASE_TC_HANDLE, .priority = BASE_TC_PRIORITY,
                        .prog_fd = prog_fd);
    int err = bpf_tc_hook_create(&hook);
    if (err && err != -EEXIST)
        return err;
    return bpf_tc_attach(&hook, &opts);
}

static void tc_detach(int ifindex, enum bpf_tc_attach_point where) {
    int i = where == BPF_TC_INGRESS ? 0 : 1;
    if (tcx_links[i] >= 0) {
        close(tcx_links[i]);
        return;
    }
    DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
    DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BASE_TC_HANDLE, .priority = BASE_TC_PRIORITY);
    bpf_tc_detach(&hook, &opts);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s IFNAME\n", argv[0]);
        return 2;
    }
    int ifindex = (int)if_nametoindex(argv[1]);
    if (!ifindex) {
        fprintf(stderr, "overhead_baseline: no interface %s\n", argv[1]);
        return 1;
    }
    struct overhead_baseline_bpf* skel = overhead_baseline_bpf__open_and_load();
    if (!skel) {
        fprintf(stderr, "overhead_baseline: load failed: %s\n", strerror(errno));
        return 1;
    }
    int rc = 1, err;
    if ((err = overhead_baseline_bpf__attach(skel))) {
        fprintf(stderr, "overhead_baseline: tracepoint attach failed: %s\n", strerror(-err));
        goto out;
    }
    const int tcx = tcx_supported(bpf_program__fd(skel->progs.base_tc_ingress));
    if ((err = tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(skel->progs.base_tc_ingress),
                         tcx)) ||
        (err =
             tc_attach(ifindex, BPF_TC_EGRESS, bpf_program__fd(skel->progs.base_tc_egress), tcx))) {
        fprintf(stderr, "overhead_baseline: tc attach on %s failed: %s\n", argv[1], strerror(-err));
        goto detach;
    }
    /* Blocked until sigsuspend: a signal between the test and the wait is not lost. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &old);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("ready %s\n", tcx ? "tcx" : "clsact");
    fflush(stdout);
    while (!stop)
        sigsuspend(&old);
    rc = 0;
detach:
    tc_detach(ifindex, BPF_TC_INGRESS);
    tc_detach(ifindex, BPF_TC_EGRESS);
out:
    overhead_baseline_bpf__destroy(skel);
    return rc;
}

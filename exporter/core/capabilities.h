// Dropping the capabilities start-up needed and running on doesn't. Once every probe is
// loaded and attached, traceiface creates no BPF object any more:
//   - CAP_BPF: creating maps and programs, the pins (start-up only). Map reads and updates
//     through fds it already holds need no capability, nor do ring-buffer mmap and
//     BPF_OBJ_GET_INFO_BY_FD (run counts for the self-metrics).
//   - CAP_PERFMON: loading tracing programs (tp_btf) that read kernel memory (start-up only).
//   - CAP_SYS_ADMIN (root): BPF_PROG_GET_FD_BY_ID, to read a program's name; the names of
//     programs already loaded are collected at start-up (tc_loaded_programs_named_ours).
//   - Kernels before 6.5 with kernel.unprivileged_bpf_disabled refuse any bpf() command to a
//     caller without CAP_BPF (or CAP_SYS_ADMIN before 5.8): there that one stays too (tested,
//     not guessed from the version).
//   - CAP_NET_ADMIN stays: interfaces keep appearing, and tc filters are attached to and
//     detached from them (rtnetlink RTM_NEWTFILTER / RTM_DELTFILTER / RTM_NEWQDISC) for the
//     daemon's whole life.
// Capabilities are per thread: the drop must happen before the threads that should not keep
// them are created (they inherit the creator's set), or in each of them (drop_thread_caps).
// Raw capget/capset/prctl rather than libcap: three stable system calls, no library to ship.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/result.h"
#include "metrics_registry.h"

namespace tif {

struct CapState {
    uint64_t effective = 0, permitted = 0, inheritable = 0, bounding = 0;
};

// The calling thread's sets (bounding: probed with PR_CAPBSET_READ).
Result<CapState> current_caps();

// The image's binary carries its capabilities as permitted-only file capabilities (setcap
// "+p", no effective bit). execve then succeeds whatever part of them the bounding set lets
// through (with the effective bit, one withheld capability makes execve fail with EPERM, so
// the chart would have to grant every one, even those only pod identity uses), and the process
// starts with them permitted but not effective: this raises the effective set to the
// permitted one. Nothing changes for root, whose effective set is its permitted set already.
// Called first thing in main, before any thread exists (they inherit the caller's sets).
Status raise_permitted_caps();

// "CAP_NET_ADMIN,CAP_BPF" for a mask; "" for none.
std::string cap_names(uint64_t mask);

inline constexpr uint64_t cap_bit(int cap) {
    return uint64_t(1) << cap;
}

// Keeps `keep` (where held) in the calling thread's effective and permitted sets and drops
// everything else from those, the inheritable and ambient sets, and the bounding set (only
// possible while CAP_SETPCAP is held, i.e. as root; without it nothing can regain them
// anyway: the process never executes a program). Sets no_new_privs. Returns what is held now.
Result<CapState> drop_caps_except(uint64_t keep);

// For threads that need no capability at all (the Loki pusher): empties this thread's sets.
void drop_thread_caps();

// For threads that need a few (the k8s resolver: CAP_SYS_PTRACE for other processes'
// /proc/<pid>/ns/net, CAP_DAC_OVERRIDE to connect to a root-owned runtime socket): keeps `keep`
// where held in this thread's sets, drops the rest.
Status keep_thread_caps(uint64_t keep);

// traceiface_capabilities{set="effective"|"permitted",capability="CAP_..."} 1, read from the
// process at scrape time.
std::unique_ptr<Collector> make_caps_collector();

} // namespace tif

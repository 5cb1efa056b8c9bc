// Sockets of hostNetwork pods live in the node's network namespace, so their netns cannot name
// their pod. Their cgroup can: the kernel keeps the cgroup v2 of the task that created a socket
// (sk_cgrp_data), and the retransmit probe reads its id, which is the inode number of that
// cgroup's directory. This finds the node's cgroup v2 hierarchy and the kubepods cgroups in it
// (cgroup_pod.h parses their paths): cgroup id → pod uid and container id.
//
// Where the node has no cgroup v2 hierarchy in use (cgroup v1), every socket reports the v2
// root: a hostNetwork pod's sockets cannot be told from the node's own, and nothing is guessed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tif {

inline constexpr const char* K8S_CGROUP_ROOT_AUTO = "auto";

// The cgroup v2 mount to read: `configured` when it is one (the flag), else, for "auto", the
// first cgroup2 mount of host_root + /sys/fs/cgroup (unified) and /sys/fs/cgroup/unified
// (systemd's hybrid layout). "" when there is none (or `configured` is "", off).
std::string find_cgroup2_root(const std::string& host_root, const std::string& configured);

struct PodCgroupPath {
    uint64_t cgroup_id = 0; // the directory's inode number
    std::string pod_uid;
    std::string container_id; // "" for the pod's own cgroup
};

struct CgroupScan {
    std::vector<PodCgroupPath> cgroups;
    size_t dirs = 0;        // directories read
    bool truncated = false; // stopped at max_dirs
};

// Walks `root` for kubepods cgroups: every directory near the top (a nested kubelet's prefix,
// e.g. /kubelet.slice or /docker/<id>) and below only those whose path names kubepods, so a
// node's thousands of system units are not read. Directories that vanish meanwhile are skipped.
CgroupScan scan_pod_cgroups(const std::string& root, size_t max_dirs = 65536);

} // namespace tif

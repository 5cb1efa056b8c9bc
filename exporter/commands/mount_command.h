// `traceiface mount-bpffs [DIR]`: mounts a BPF filesystem at DIR (default /sys/fs/bpf) unless
// one is there. For the Helm chart's init container, which runs it privileged with
// Bidirectional mount propagation so that the mount lands on the node, where the daemon's
// unprivileged container (no CAP_SYS_ADMIN) finds it for its pins.
#pragma once

#include <string>
#include <vector>

namespace tif {

// Returns the process exit code: 0 mounted or already there, 1 the mount failed, 2 bad usage.
int run_mount_bpffs_command(const std::vector<std::string>& args);

} // namespace tif

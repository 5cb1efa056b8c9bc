// Subcommands for the Helm chart's init containers, which prepare the node for the daemon:
//
// `traceiface mount-bpffs [DIR]`: mounts a BPF filesystem at DIR (default /sys/fs/bpf) unless
// one is there. The chart runs it privileged with Bidirectional mount propagation so that the
// mount lands on the node, where the daemon's unprivileged container (no CAP_SYS_ADMIN) finds
// it for its pins.
//
// `traceiface prepare-dirs --owner=UID:GID DIR...`: creates each absolute DIR (mode 0755,
// parents as needed, like mkdir -p) unless it exists, and gives it (only it, not its parents)
// to UID:GID. The chart runs it as root with CAP_CHOWN (it needs no other) on the node's pin
// directory (/sys/fs/bpf/traceiface) and span-socket directory (/run/traceiface), so that a
// non-root daemon (uid 65534, no CAP_DAC_OVERRIDE) can create its pins and socket there.
// Idempotent.
#pragma once

#include <string>
#include <vector>

namespace tif {

// Returns the process exit code: 0 mounted or already there, 1 the mount failed, 2 bad usage.
int run_mount_bpffs_command(const std::vector<std::string>& args);

// Returns the process exit code: 0 every DIR exists owned by UID:GID, 1 one could not be made
// or chowned, 2 bad usage.
int run_prepare_dirs_command(const std::vector<std::string>& args);

} // namespace tif

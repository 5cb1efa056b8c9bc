// `traceiface list [--json] [--k8s.cri-endpoint=EP] [--k8s.host-root=DIR]`: the interfaces
// of this network namespace and what traceiface has attached to each, read from the kernel (a
// link dump and a tc query per hook), so it works while the daemon runs, after it crashed, or
// without it; and the Kubernetes pod a veth leads into, from one pass of the daemon's pod
// resolver (k8s/pod_resolver.h: CRI, the cgroup fallback). A runtime that is down or absent
// leaves the pod fields empty and says so; it never fails the command.
#pragma once

#include <string>
#include <vector>

namespace tif {

// Returns the process exit code (0, 1 on a kernel error, 2 on bad arguments).
int run_list_command(const std::vector<std::string>& args);

} // namespace tif

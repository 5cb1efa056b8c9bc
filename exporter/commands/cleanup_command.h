// `traceiface cleanup [--bpf.pin-path=DIR] [--all-filters]`: removes what traceiface leaves
// in the kernel on purpose (pinned counter maps, so counters continue across restarts) or by
// accident (the tc filters of an instance killed with SIGKILL): the tc filters running a
// program recorded in DIR, the clsact qdiscs that leaves empty, and DIR itself. With
// --all-filters also every filter at our handle/priority whose program is named like ours
// (instances that ran without pinning; needs CAP_SYS_ADMIN to read program names). Refuses
// while a daemon holds DIR.
#pragma once

#include <string>
#include <vector>

namespace tif {

// Returns the process exit code: 0 done, 1 something could not be removed, 2 bad arguments.
int run_cleanup_command(const std::vector<std::string>& args);

} // namespace tif

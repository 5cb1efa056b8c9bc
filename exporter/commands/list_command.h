// `traceiface list [--json]`: the interfaces of this network namespace and what traceiface
// has attached to each, read from the kernel (a link dump and a tc query per hook), so it
// works while the daemon runs, after it crashed, or without it.
#pragma once

#include <string>
#include <vector>

namespace tif {

// Returns the process exit code (0, 1 on a kernel error, 2 on bad arguments).
int run_list_command(const std::vector<std::string>& args);

} // namespace tif

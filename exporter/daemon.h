// The running exporter: probes, the io_context that drains their ring buffers, the HTTP
// server, and the signal handling that takes it all down cleanly.
#pragma once

#include "config/options.h"

namespace tif {

// Returns the process exit code: 0 after SIGINT/SIGTERM, 1 when start-up failed.
int run_daemon(const Options& opt);

} // namespace tif

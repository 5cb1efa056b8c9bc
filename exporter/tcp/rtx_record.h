// The daemon's handler of one retransmit ring-buffer record: decode, interface labels, the
// exemplar of a bound retransmit, then the JSON line unless the log limiter holds it back.
// Shared by the retransmit module and bench/ring_bench.cpp, which measures this exact path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "k8s/pod_directory.h"
#include "log/log_limiter.h"
#include "openmetrics.h"

namespace tif {

// `limiter` may be null (every line written); `pods` (may be null) names the pod of the
// socket's network namespace in the line.
void log_rtx_record(std::span<const std::byte> rec, uint32_t host_netns_ino, ExemplarTable& ex,
                    LogLimiter* limiter, const PodDirectory* pods = nullptr);

} // namespace tif

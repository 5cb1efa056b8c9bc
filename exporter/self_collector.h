// The exporter's own health: build info and, per event pipeline, what the kernel produced,
// what it lost because the ring buffer was full, what it held back over the log limit, and
// what user space consumed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "log/log_limiter.h"
#include "metrics_registry.h"
#include "tcp/retransmit_probe.h"

namespace tif {

struct EventPipeline {
    std::string probe;
    std::function<Result<ProbeStats>()> kernel_stats;
    std::function<uint64_t()> consumed;
    // Events the probe kept in the kernel over the log limit, by (iface, event); empty for a
    // probe without a pre-limiter.
    HeldSource held{};
    // All events held since start, vanished interfaces' included (held's labels leave with
    // their interfaces); when unset, the sum of held.
    std::function<Result<uint64_t>()> held_total{};
};

// The sum of every pipeline's held events (0 where a read fails).
uint64_t held_total(const std::vector<EventPipeline>& pipelines);

class SelfCollector : public Collector {
  public:
    explicit SelfCollector(std::vector<EventPipeline> pipelines)
        : pipelines_(std::move(pipelines)) {}
    std::string_view name() const override { return "self"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    std::vector<EventPipeline> pipelines_;
};

} // namespace tif

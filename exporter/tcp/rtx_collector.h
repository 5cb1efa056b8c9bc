// /metrics for the retransmit probe: per-interface, per-kind segment counters read from the
// kernel's per-CPU map at scrape time, and the events its pre-limiter kept in the kernel.
#pragma once

#include "log/log_limiter.h"
#include "metrics_registry.h"
#include "net/iface_label.h"
#include "tcp/retransmit_probe.h"

namespace tif {

class RetransmitCollector : public Collector {
  public:
    RetransmitCollector(const RetransmitProbe& probe, uint32_t host_netns_ino, IfNameLookup names)
        : probe_(probe), host_netns_ino_(host_netns_ino), names_(std::move(names)) {}
    std::string_view name() const override { return "tcp_retransmit"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    const RetransmitProbe& probe_;
    uint32_t host_netns_ino_;
    IfNameLookup names_;
};

// Retransmit events the probe kept in the kernel because their interface was over the log
// limit, by (iface, "tcp_retransmit"): lines held back, like the log limiter's own.
// Events the probe held in the kernel since start, over every interface, vanished ones
// included: traceiface_events_held_total and the exit line's events_held.
Result<uint64_t> rtx_held_total(const RetransmitProbe& probe);

Result<LogLimiter::Counts> rtx_held_lines(const RetransmitProbe& probe, uint32_t host_netns_ino,
                                          const IfNameLookup& names);

} // namespace tif

// /metrics for the latency probe: per-interface RTT and connect-latency histograms and connect
// failures by reason, read from the kernel's per-CPU maps at scrape time.
#pragma once

#include <string_view>

#include "metrics_registry.h"
#include "net/iface_label.h"
#include "tcp/latency_probe.h"

namespace tif {

std::string_view connect_fail_reason(uint32_t which);

class LatencyCollector : public Collector {
  public:
    LatencyCollector(const LatencyProbe& probe, uint32_t host_netns_ino, IfNameLookup names)
        : probe_(probe), host_netns_ino_(host_netns_ino), names_(std::move(names)) {}
    std::string_view name() const override { return "tcp_latency"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    Status collect_histograms(std::vector<prometheus::MetricFamily>& out);
    Status collect_failures(std::vector<prometheus::MetricFamily>& out);

    const LatencyProbe& probe_;
    uint32_t host_netns_ino_;
    IfNameLookup names_;
};

} // namespace tif

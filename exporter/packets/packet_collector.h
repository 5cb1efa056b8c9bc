// /metrics for the tc packet counters: per interface and direction, read from the kernel's
// per-CPU array at scrape time, plus traceiface_interface_info and the watch bookkeeping.
#pragma once

#include "metrics_registry.h"
#include "packets/packet_manager.h"

namespace tif {

class PacketCollector : public Collector {
  public:
    explicit PacketCollector(PacketManager& mgr) : mgr_(mgr) {}
    std::string_view name() const override { return "tc_packets"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    PacketManager& mgr_;
};

// The families for one snapshot (the collector minus the kernel read; the bench feeds it).
void packet_families(const PacketSnapshot& snap, std::vector<prometheus::MetricFamily>& out);

// Classic Prometheus histogram from the kernel's log2 size buckets (not cumulative there).
prometheus::ClientMetric::Histogram size_histogram(const tif_tc_counts& c);

} // namespace tif

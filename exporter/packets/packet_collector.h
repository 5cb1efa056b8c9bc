// /metrics for the tc packet counters: per interface and direction, read from the kernel's
// per-CPU array at scrape time, plus traceiface_interface_info and the watch bookkeeping.
#pragma once

#include "k8s/pod_directory.h"
#include "metrics_registry.h"
#include "packets/packet_manager.h"

namespace tif {

class PacketCollector : public Collector {
  public:
    explicit PacketCollector(PacketManager& mgr, std::shared_ptr<const PodDirectory> pods = {})
        : mgr_(mgr), pods_(std::move(pods)) {}
    std::string_view name() const override { return "tc_packets"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    PacketManager& mgr_;
    std::shared_ptr<const PodDirectory> pods_;
};

// The families for one snapshot (the collector minus the kernel read; the bench feeds it).
// `pods` names the pod a veth leads into (interface_info's namespace and pod labels).
void packet_families(const PacketSnapshot& snap, std::vector<prometheus::MetricFamily>& out,
                     const PodDirectory* pods = nullptr);

// Classic Prometheus histogram from the kernel's log2 size buckets (not cumulative there).
prometheus::ClientMetric::Histogram size_histogram(const tif_tc_counts& c);

} // namespace tif

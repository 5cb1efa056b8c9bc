// The TCP latency probe: open -> configure -> load -> attach of tcp_latency.bpf.c, and the
// reads /metrics needs (per-interface histograms and connect failures, summed over CPUs).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bpf/bpf_raii.h"
#include "bpf/pin_store.h"
#include "core/result.h"
#include "net/iface_lifecycle.h"
#include "span/span_maps.h"
#include "tcp/retransmit_probe.h"
#include "tcp_latency.h"

struct tcp_latency_bpf;

namespace tif {

struct LatHistSample {
    tif_lat_key key; // key.which: enum tif_lat_hist
    tif_lat_hist_val hist;
};

struct ConnFailSample {
    tif_lat_key key; // key.which: enum tif_connect_fail
    uint64_t count;
};

class LatencyProbe {
  public:
    struct Options {
        uint32_t host_netns_ino = 0;
        uint64_t rtt_sample_interval_ns = 1'000'000'000; // 0 = every segment with data in flight
        SpanMapFds span_maps{};   // the shared span-binding table, when the span module made one
        PinStore* pins = nullptr; // pins the histograms and failure counts
        uint32_t max_iface_keys = 4096; // lat_hist and conn_fail capacity (--tcp.max-iface-keys)
    };

    static Result<std::unique_ptr<LatencyProbe>> start(const Options& opt);
    ~LatencyProbe();

    Result<std::vector<LatHistSample>> read_histograms() const;
    Result<std::vector<ConnFailSample>> read_failures() const;
    Result<ProbeStats> read_stats() const;
    // lat_hist and conn_fail as the interface lifecycle sweeps them.
    std::shared_ptr<IfaceKeyedMap> hist_keys() const { return hist_keys_; }
    std::shared_ptr<IfaceKeyedMap> fail_keys() const { return fail_keys_; }
    int exemplars_map_fd() const; // ring buffer of tif_rtt_exemplar_event
    std::vector<std::pair<std::string, int>> programs() const; // name, fd

  private:
    LatencyProbe() = default;
    BpfSkeleton<tcp_latency_bpf> skel_;
    std::shared_ptr<IfaceKeyedMap> hist_keys_, fail_keys_;
};

} // namespace tif

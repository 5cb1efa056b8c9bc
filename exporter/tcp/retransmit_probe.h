// The TCP retransmit probe: open -> configure -> load -> attach of tcp_retransmit.bpf.c, and
// the reads /metrics needs (per-interface counters, produced/lost event counts).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bpf/bpf_maps.h"
#include "bpf/bpf_raii.h"
#include "bpf/pin_store.h"
#include "core/result.h"
#include "iface_ref.h"
#include "net/iface_lifecycle.h"
#include "span/span_maps.h"
#include "tcp_retransmit.h"

struct tcp_retransmit_bpf;

namespace tif {

struct RtxSample {
    tif_rtx_key key;
    tif_rtx_counts counts;
};

class RetransmitProbe {
  public:
    struct Options {
        uint32_t host_netns_ino = 0;
        uint32_t ringbuf_bytes = 256 * 1024; // power of two, multiple of the page size
        SpanMapFds span_maps{};              // the daemon's span-binding table, if any
        PinStore* pins = nullptr;            // pins rtx_counts (counts survive a restart)
        uint32_t log_event_rate = 0;         // the pre-limiter: --log.event-rate, 0 = none
        uint32_t log_event_burst = 0;        // --log.event-burst, 0 = the rate
        uint32_t max_iface_keys = 4096;      // rtx_counts capacity (--tcp.max-iface-keys)
    };

    static Result<std::unique_ptr<RetransmitProbe>> start(const Options& opt);
    ~RetransmitProbe();

    int events_map_fd() const;
    std::vector<std::pair<std::string, int>> programs() const; // name, fd
    // The kernel's counters plus the counts the lifecycle carries for deleted keys.
    // `retired` (optional): the counts of vanished interfaces' deleted keys whose series ended,
    // read in the same snapshot (IfaceKeyedMap::retired()).
    Result<std::vector<RtxSample>> read_counts(tif_rtx_counts* retired = nullptr) const;
    // rtx_counts as the interface lifecycle sweeps it.
    std::shared_ptr<IfaceKeyedMap> iface_keys() const { return keys_; }
    Result<ProbeStats> read_stats() const;
    // The in-kernel pre-limiter's rate and burst (see over_log_limit in the probe): the log
    // limiter's, set at start and on every reload.
    void set_log_limit(uint32_t rate, uint32_t burst);

  private:
    RetransmitProbe() = default;
    BpfSkeleton<tcp_retransmit_bpf> skel_;
    std::shared_ptr<IfaceKeyedMap> keys_;
};

} // namespace tif

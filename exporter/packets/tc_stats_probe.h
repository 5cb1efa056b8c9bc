// The tc packet-counting programs (tc_stats.bpf.c): loading, the ifindex -> slot map user
// space maintains, and reading a slot's per-CPU counters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "bpf/bpf_raii.h"
#include "bpf/pin_store.h"
#include "core/result.h"
#include "net/tc_attach.h"
#include "tc_stats.h"

struct tc_stats_bpf;

namespace tif {

class TcStatsProbe {
  public:
    // max_ifaces: entries of the ifindex map; slots: counter slots (each two directions).
    // With pins enabled the counters and slot maps are pinned, or adopted from a predecessor.
    static Result<std::unique_ptr<TcStatsProbe>> load(uint32_t max_ifaces, uint32_t slots,
                                                      PinStore& pins);
    ~TcStatsProbe();

    int prog_fd(TcDir dir) const;
    uint32_t slots() const { return slots_; }

    // Zeroes both directions of a slot on every CPU (before it is handed to an interface).
    Status zero(uint32_t slot);
    // Publishes ifindex -> slot: from now on the programs count this interface there.
    Status bind(uint32_t ifindex, uint32_t slot, uint32_t max_len, uint32_t l2_len);
    // Stops counting an interface (its slot keeps its counts for the grace period).
    Status unbind(uint32_t ifindex);
    // Summed over CPUs.
    Result<tif_tc_counts> read(uint32_t slot, TcDir dir) const;

    // Whether the maps are a predecessor's (pinned): their counts and bindings continue.
    bool adopted() const { return adopted_; }
    // Every ifindex -> slot the slot maps hold (a predecessor's, when adopted).
    Result<std::vector<std::pair<uint32_t, tif_tc_slot>>> bindings() const;

  private:
    TcStatsProbe() = default;
    BpfSkeleton<tc_stats_bpf> skel_;
    uint32_t slots_ = 0;
    bool adopted_ = false;
};

} // namespace tif

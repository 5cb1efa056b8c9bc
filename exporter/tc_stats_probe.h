// The tc packet-counting programs (tc_stats.bpf.c): loading, the ifindex -> slot map user
// space maintains, and reading a slot's per-CPU counters.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "bpf_raii.h"
#include "result.h"
#include "tc_attach.h"
#include "tc_stats.h"

struct tc_stats_bpf;

namespace tif {

class TcStatsProbe {
  public:
    // max_ifaces: entries of the ifindex map; slots: counter slots (each two directions).
    static Result<std::unique_ptr<TcStatsProbe>> load(uint32_t max_ifaces, uint32_t slots);
    ~TcStatsProbe();

    int prog_fd(TcDir dir) const;
    uint32_t slots() const { return slots_; }

    // Zeroes both directions of a slot on every CPU (before it is handed to an interface).
    Status zero(uint32_t slot);
    // Publishes ifindex -> slot: from now on the programs count this interface there.
    Status bind(uint32_t ifindex, uint32_t slot, uint32_t max_len);
    // Stops counting an interface (its slot keeps its counts for the grace period).
    Status unbind(uint32_t ifindex);
    // Summed over CPUs.
    Result<tif_tc_counts> read(uint32_t slot, TcDir dir) const;

  private:
    TcStatsProbe() = default;
    int slot_map_fd(uint32_t ifindex) const;
    BpfSkeleton<tc_stats_bpf> skel_;
    uint32_t slots_ = 0;
};

} // namespace tif

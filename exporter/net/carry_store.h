// Where an IfaceKeyedMap keeps what it holds in user space beyond the kernel map: the counts
// of deleted keys carried on a surviving key of the same label, and the retired totals of
// series that ended (iface_lifecycle.h). Without it a restart would forget them and the
// summed series would go backwards although the counter maps themselves were adopted. The
// store is a plain BPF hash the probe object declares next to its counter map and pins with
// it (the programs never touch it): same key as the counter map, a value of its u64 fields
// summed over CPUs, one reserved key for the retired totals.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace tif {

class CarryStore {
  public:
    using Carry = std::map<std::string, std::vector<uint64_t>>; // raw key -> summed fields

    // fd: BPF_MAP_TYPE_HASH, key_size-byte keys, value_u64s u64 values (not owned).
    CarryStore(int fd, uint32_t key_size, uint32_t value_u64s);

    // What a predecessor left (nothing on a fresh map).
    Status load(Carry& carry, std::vector<uint64_t>& retired);
    // Makes the map hold exactly `carry` and `retired`: writes entries that changed since the
    // last save (or load), deletes the ones gone.
    Status save(const Carry& carry, const std::vector<uint64_t>& retired);

  private:
    std::string retired_key() const;

    int fd_;
    uint32_t key_size_, value_u64s_;
    Carry saved_; // what the map holds (the retired totals under retired_key())
};

} // namespace tif

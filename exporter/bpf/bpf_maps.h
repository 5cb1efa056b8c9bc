// Reading per-CPU BPF maps from user space: values summed over every possible CPU.
#pragma once

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "iface_ref.h"

namespace tif {

int possible_cpus();

// Per-CPU array of u64 counters (like tif_stats): one summed value per slot.
Result<std::vector<uint64_t>> read_percpu_u64_array(int map_fd, uint32_t slots);

// A probe object's produced/lost counters (its `tif_stats` map, see enum tif_stat).
using ProbeStats = std::array<uint64_t, TIF_STAT_MAX>;
Result<ProbeStats> read_probe_stats(int tif_stats_fd);

// Every program of a loaded object, as (name, fd), for the per-program self-metrics.
std::vector<std::pair<std::string, int>> object_programs(const bpf_object* obj);

// Walks a per-CPU hash whose value is a struct of u64 fields, giving the key and the per-field
// sums. V must consist of u64 only (each per-CPU value is padded to 8 bytes by the kernel).
template <class K, class V>
Status for_each_percpu_hash(int map_fd, const std::function<void(const K&, const V&)>& fn) {
    static_assert(sizeof(V) % sizeof(uint64_t) == 0, "per-CPU value must be u64 fields");
    constexpr size_t fields = sizeof(V) / sizeof(uint64_t);
    const int ncpu = possible_cpus();
    std::vector<uint64_t> buf(size_t(ncpu) * fields);
    K key{}, next{};
    const K* prev = nullptr;
    while (bpf_map_get_next_key(map_fd, prev, &next) == 0) {
        if (bpf_map_lookup_elem(map_fd, &next, buf.data()) == 0) {
            // Sum into a plain array and copy it in: writing V's __u64 fields through a
            // uint64_t* would break aliasing rules, and the optimiser may drop the writes.
            uint64_t totals[fields] = {};
            for (int c = 0; c < ncpu; ++c)
                for (size_t f = 0; f < fields; ++f)
                    totals[f] += buf[size_t(c) * fields + f];
            V sum;
            std::memcpy(&sum, totals, sizeof(sum));
            fn(next, sum);
        } else if (errno != ENOENT) { // ENOENT: deleted while we walked, skip it
            return os_error(errno, "bpf_map_lookup_elem on per-CPU hash");
        }
        key = next;
        prev = &key;
    }
    if (errno != ENOENT)
        return os_error(errno, "bpf_map_get_next_key on per-CPU hash");
    return Ok{};
}

} // namespace tif

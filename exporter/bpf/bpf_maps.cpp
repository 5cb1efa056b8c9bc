#include "bpf/bpf_maps.h"

#include <algorithm>

namespace tif {

int possible_cpus() {
    static const int n = [] {
        int c = libbpf_num_possible_cpus();
        return c > 0 ? c : 1;
    }();
    return n;
}

Result<std::vector<uint64_t>> read_percpu_u64_array(int map_fd, uint32_t slots) {
    const int ncpu = possible_cpus();
    std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
    std::vector<uint64_t> sums(slots, 0);
    for (uint32_t i = 0; i < slots; ++i) {
        if (bpf_map_lookup_elem(map_fd, &i, per_cpu.data()) != 0)
            return os_error(errno,
                            "bpf_map_lookup_elem on per-CPU array slot " + std::to_string(i));
        for (uint64_t v : per_cpu)
            sums[i] += v;
    }
    return sums;
}

Result<ProbeStats> read_probe_stats(int tif_stats_fd) {
    auto v = read_percpu_u64_array(tif_stats_fd, TIF_STAT_MAX);
    if (!v)
        return v.error();
    ProbeStats s{};
    std::copy(v->begin(), v->end(), s.begin());
    return s;
}

std::vector<std::pair<std::string, int>> object_programs(const bpf_object* obj) {
    std::vector<std::pair<std::string, int>> out;
    bpf_program* prog;
    bpf_object__for_each_program(prog, obj) {
        out.emplace_back(bpf_program__name(prog), bpf_program__fd(prog));
    }
    return out;
}

} // namespace tif

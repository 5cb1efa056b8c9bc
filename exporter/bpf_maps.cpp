#include "bpf_maps.h"

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

} // namespace tif

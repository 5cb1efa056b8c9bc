#include "span/span_table.h"

#include <bpf/bpf.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace tif {

static_assert(sizeof(tif_span_binding) == 72, "tif_span_binding layout shared with the probes");

uint64_t boottime_ns() {
    timespec ts{};
    clock_gettime(CLOCK_BOOTTIME, &ts); // the clock of bpf_ktime_get_boot_ns()
    return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
}

Result<SpanTable> SpanTable::create(uint32_t max_entries) {
    int fd = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "span_bindings", sizeof(uint64_t),
                            sizeof(tif_span_binding), max_entries, nullptr);
    if (fd < 0)
        return os_error(errno, "bpf_map_create LRU_HASH span_bindings (" +
                                   std::to_string(max_entries) + " entries)");
    UniqueFd table(fd);
    // Created closed (zero), as an empty table's gate is.
    int gate = bpf_map_create(BPF_MAP_TYPE_ARRAY, "span_in_use", sizeof(uint32_t), sizeof(uint32_t),
                              1, nullptr);
    if (gate < 0)
        return os_error(errno, "bpf_map_create ARRAY span_in_use");
    return SpanTable(std::move(table), UniqueFd(gate));
}

Status SpanTable::set_gate(bool open) {
    const uint32_t key = 0, value = open ? 1 : 0;
    if (bpf_map_update_elem(gate_.get(), &key, &value, BPF_ANY) != 0)
        return os_error(errno,
                        std::string("bpf_map_update_elem span_in_use = ") + (open ? "1" : "0"));
    gate_open_ = open;
    return Ok{};
}

Status SpanTable::bind(uint64_t cookie, const SpanFrame& f, uint64_t ttl_ns) {
    tif_span_binding b{};
    std::copy(f.trace_id.begin(), f.trace_id.end(), b.trace_id);
    std::copy(f.span_id.begin(), f.span_id.end(), b.span_id);
    b.flags = f.flags;
    std::copy_n(f.name.begin(), f.name_len, b.name);
    b.expires_ns = boottime_ns() + ttl_ns;
    if (!gate_open_)
        if (auto st = set_gate(true); !st)
            return st;
    if (bpf_map_update_elem(fd_.get(), &cookie, &b, BPF_ANY) != 0)
        return os_error(errno, "bpf_map_update_elem span_bindings");
    return Ok{};
}

Status SpanTable::unbind(uint64_t cookie) {
    if (bpf_map_delete_elem(fd_.get(), &cookie) != 0 && errno != ENOENT)
        return os_error(errno, "bpf_map_delete_elem span_bindings");
    return Ok{};
}

Result<uint64_t> SpanTable::walk(bool delete_expired) const {
    const uint64_t now = boottime_ns();
    uint64_t live = 0, key = 0, next = 0;
    const uint64_t* prev = nullptr;
    std::vector<uint64_t> expired;
    while (bpf_map_get_next_key(fd_.get(), prev, &next) == 0) {
        tif_span_binding b{};
        if (bpf_map_lookup_elem(fd_.get(), &next, &b) == 0) {
            if (b.expires_ns >= now)
                ++live;
            else if (delete_expired)
                expired.push_back(next);
        }
        key = next;
        prev = &key;
    }
    if (errno != ENOENT)
        return os_error(errno, "bpf_map_get_next_key span_bindings");
    for (uint64_t k : expired) // deleting while walking would restart the walk
        bpf_map_delete_elem(fd_.get(), &k);
    return live;
}

Result<uint64_t> SpanTable::sweep() {
    auto live = walk(true);
    if (!live || !gate_open_)
        return live;
    // Only this strand adds bindings, so an empty table stays empty until the next bind(),
    // which opens the gate again before it adds one.
    uint64_t first = 0;
    if (bpf_map_get_next_key(fd_.get(), nullptr, &first) == 0)
        return live;
    if (errno != ENOENT)
        return os_error(errno, "bpf_map_get_next_key span_bindings");
    if (auto st = set_gate(false); !st)
        return st.error();
    return live;
}

Result<uint64_t> SpanTable::count_live() const {
    return walk(false);
}

} // namespace tif

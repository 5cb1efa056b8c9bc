#include "packets/tc_stats_probe.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "bpf/bpf_load.h"
#include "bpf/bpf_maps.h"
#include "tc_stats.skel.h"

namespace tif {

static_assert(sizeof(tif_tc_slot) == 16, "tif_tc_slot layout shared with the probe");
static_assert(sizeof(tif_tc_counts) == 8 * (4 + TIF_SIZE_BUCKETS),
              "tif_tc_counts: u64 fields only, shared with the probe");

TcStatsProbe::~TcStatsProbe() = default;

Result<std::unique_ptr<TcStatsProbe>> TcStatsProbe::load(uint32_t max_ifaces, uint32_t slots,
                                                         PinStore& pins) {
    std::unique_ptr<TcStatsProbe> p(new TcStatsProbe());
    p->skel_ = BpfSkeleton<tc_stats_bpf>(tc_stats_bpf::open());
    if (!p->skel_)
        return os_error(errno, "open BPF object tc_stats");
    p->slots_ = slots;
    if (int err = bpf_map__set_max_entries(p->skel_->maps.tc_slots, max_ifaces))
        return os_error(err, "size map tc_slots to " + std::to_string(max_ifaces));
    if (int err = bpf_map__set_max_entries(p->skel_->maps.tc_counts, 2 * slots))
        return os_error(err, "size map tc_counts to " + std::to_string(2 * slots));
    // The slot maps go with the counters: without them nobody knows whose counts those are.
    p->adopted_ =
        pins.prepare(p->skel_->obj, "tc_stats", {"tc_slot_direct", "tc_slots", "tc_counts"}) ==
        PinStore::Outcome::adopted;
    if (auto st = load_skeleton(p->skel_.get(), "tc_stats"); !st)
        return st.error();
    return p;
}

int TcStatsProbe::prog_fd(TcDir dir) const {
    return bpf_program__fd(dir == TcDir::ingress ? skel_->progs.tif_tc_ingress
                                                 : skel_->progs.tif_tc_egress);
}

Status TcStatsProbe::zero(uint32_t slot) {
    std::vector<tif_tc_counts> zeros(static_cast<size_t>(possible_cpus()));
    for (uint32_t dir = 0; dir < 2; ++dir) {
        uint32_t idx = slot * 2 + dir;
        if (bpf_map_update_elem(bpf_map__fd(skel_->maps.tc_counts), &idx, zeros.data(), BPF_ANY) !=
            0)
            return os_error(errno, "zero tc_counts slot " + std::to_string(slot));
    }
    return Ok{};
}

namespace {
uint32_t position(uint32_t ifindex) {
    return ifindex & (TIF_SLOT_POSITIONS - 1);
}
} // namespace

// Written to the direct table when the interface's position is free or already its own,
// otherwise to the hash. Direct first, then the hash entry (of an earlier binding) goes: a
// packet in between finds the direct entry, which the programs look at first.
Status TcStatsProbe::bind(uint32_t ifindex, uint32_t slot, uint32_t max_len, uint32_t l2_len) {
    const int direct = bpf_map__fd(skel_->maps.tc_slot_direct);
    const int hash = bpf_map__fd(skel_->maps.tc_slots);
    const uint32_t pos = position(ifindex);
    tif_tc_slot cur{};
    if (bpf_map_lookup_elem(direct, &pos, &cur) != 0)
        return os_error(errno, "read tc_slot_direct[" + std::to_string(pos) + "]");
    // max_len 0 means "free" to the programs.
    tif_tc_slot v{
        .ifindex = ifindex, .slot = slot, .max_len = max_len == 0 ? 1 : max_len, .l2_len = l2_len};
    const auto what = "map ifindex " + std::to_string(ifindex) + " to slot " + std::to_string(slot);
    if (cur.max_len != 0 && cur.ifindex != ifindex) {
        if (bpf_map_update_elem(hash, &ifindex, &v, BPF_ANY) != 0)
            return os_error(errno, what + " in tc_slots");
        return Ok{};
    }
    if (bpf_map_update_elem(direct, &pos, &v, BPF_ANY) != 0)
        return os_error(errno, what + " in tc_slot_direct");
    if (bpf_map_delete_elem(hash, &ifindex) != 0 && errno != ENOENT)
        return os_error(errno, "remove ifindex " + std::to_string(ifindex) + " from tc_slots");
    return Ok{};
}

Status TcStatsProbe::unbind(uint32_t ifindex) {
    const int direct = bpf_map__fd(skel_->maps.tc_slot_direct);
    const uint32_t pos = position(ifindex);
    tif_tc_slot cur{};
    if (bpf_map_lookup_elem(direct, &pos, &cur) != 0)
        return os_error(errno, "read tc_slot_direct[" + std::to_string(pos) + "]");
    if (cur.max_len != 0 && cur.ifindex == ifindex) {
        const tif_tc_slot none{};
        if (bpf_map_update_elem(direct, &pos, &none, BPF_ANY) != 0)
            return os_error(errno,
                            "clear ifindex " + std::to_string(ifindex) + " in tc_slot_direct");
    }
    if (bpf_map_delete_elem(bpf_map__fd(skel_->maps.tc_slots), &ifindex) != 0 && errno != ENOENT)
        return os_error(errno, "remove ifindex " + std::to_string(ifindex) + " from tc_slots");
    return Ok{};
}

Result<std::vector<std::pair<uint32_t, tif_tc_slot>>> TcStatsProbe::bindings() const {
    std::vector<std::pair<uint32_t, tif_tc_slot>> out;
    const int direct = bpf_map__fd(skel_->maps.tc_slot_direct);
    for (uint32_t pos = 0; pos < TIF_SLOT_POSITIONS; ++pos) {
        tif_tc_slot v{};
        if (bpf_map_lookup_elem(direct, &pos, &v) != 0)
            return os_error(errno, "read tc_slot_direct[" + std::to_string(pos) + "]");
        if (v.max_len != 0)
            out.emplace_back(v.ifindex, v);
    }
    const size_t in_direct = out.size();
    const int hash = bpf_map__fd(skel_->maps.tc_slots);
    uint32_t key = 0, next = 0;
    const uint32_t* prev = nullptr;
    while (bpf_map_get_next_key(hash, prev, &next) == 0) {
        tif_tc_slot v{};
        // A predecessor killed between writing an interface's direct entry and removing its
        // older hash entry left both: the direct one is what the programs use.
        const bool shadowed = std::any_of(out.begin(), out.begin() + long(in_direct),
                                          [&](const auto& b) { return b.first == next; });
        if (bpf_map_lookup_elem(hash, &next, &v) == 0 && v.max_len != 0 && !shadowed)
            out.emplace_back(next, v);
        key = next;
        prev = &key;
    }
    return out;
}

Result<tif_tc_counts> TcStatsProbe::read(uint32_t slot, TcDir dir) const {
    constexpr size_t fields = sizeof(tif_tc_counts) / sizeof(uint64_t);
    const int ncpu = possible_cpus();
    std::vector<uint64_t> buf(size_t(ncpu) * fields);
    uint32_t idx = slot * 2 + (dir == TcDir::ingress ? TIF_TC_INGRESS : TIF_TC_EGRESS);
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.tc_counts), &idx, buf.data()) != 0)
        return os_error(errno, "read tc_counts slot " + std::to_string(slot));
    // Summed as u64 and copied into the struct: its fields are __u64 (unsigned long long), and
    // writing them through a uint64_t* (unsigned long) would break strict aliasing.
    std::array<uint64_t, fields> acc{};
    for (int c = 0; c < ncpu; ++c)
        for (size_t f = 0; f < fields; ++f)
            acc[f] += buf[size_t(c) * fields + f];
    tif_tc_counts sum{};
    std::memcpy(&sum, acc.data(), sizeof(sum));
    return sum;
}

} // namespace tif

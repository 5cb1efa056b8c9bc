#include "tcp/latency_probe.h"

#include "bpf/bpf_load.h"
#include "bpf/bpf_maps.h"
#include "bpf/kernel_features.h"
#include "log/clock.h"
#include "log/log.h"
#include "span/span_maps.h"
#include "tcp_latency.skel.h"

namespace tif {

static_assert(sizeof(tif_lat_key) == 28, "tif_lat_key layout shared with the probe");
static_assert(sizeof(tif_lat_hist_val) == (TIF_LAT_SLOTS + 2) * 8,
              "tif_lat_hist_val layout shared with the probe");
static_assert(sizeof(tif_conn_fail_val) == 8, "tif_conn_fail_val layout shared with the probe");
static_assert(sizeof(tif_rtt_exemplar_event) == 64, "tif_rtt_exemplar_event layout shared");

LatencyProbe::~LatencyProbe() = default;

namespace {
// The overflow entries (only `which` set) must exist before a map can fill up; see entry() in
// the probe.
template <class V> Status create_overflow_entries(bpf_map* map, uint32_t n, const char* what) {
    std::vector<V> zero(static_cast<size_t>(possible_cpus()));
    for (uint32_t which = 0; which < n; ++which) {
        tif_lat_key key{};
        key.which = which;
        if (bpf_map_update_elem(bpf_map__fd(map), &key, zero.data(), BPF_NOEXIST) != 0 &&
            errno != EEXIST)
            return os_error(errno, std::string("create overflow entry in ") + what);
    }
    return Ok{};
}
} // namespace

Result<std::unique_ptr<LatencyProbe>> LatencyProbe::start(const Options& opt) {
    std::unique_ptr<LatencyProbe> p(new LatencyProbe());
    p->skel_ = BpfSkeleton<tcp_latency_bpf>(tcp_latency_bpf::open());
    if (!p->skel_)
        return os_error(errno, "open BPF object tcp_latency");
    p->skel_->rodata->host_netns_ino = opt.host_netns_ino;
    // The probe counts the interval in jiffies: one load per segment, no clock read.
    const uint64_t tick_ns = kernel_tick_ns();
    const uint32_t interval_jiffies = ns_to_ticks(opt.rtt_sample_interval_ns, tick_ns);
    p->skel_->rodata->rtt_sample_interval_jiffies = interval_jiffies;
    // Per-socket state (opens with a retransmitted SYN) in socket-local storage where tracing
    // programs may use it (5.11+), else in an LRU hash; the unused map shrinks to one entry.
    auto features = kernel_features();
    if (!features)
        return features.error();
    const bool storage = features->tracing_sk_storage;
    p->skel_->rodata->have_sk_storage = storage;
    set_compat_flags(*p->skel_->rodata, *features);
    if (storage)
        if (int err = bpf_map__set_max_entries(p->skel_->maps.sk_lat_compat, 1))
            return os_error(err, "shrink the unused map sk_lat_compat");
    if (auto st = use_span_table(*p->skel_.get(), opt.span_maps, "tcp_latency"); !st)
        return st.error();

    // --tcp.max-iface-keys keys each (an interface has up to TIF_HIST_MAX histograms and
    // TIF_CONN_FAIL_MAX failure reasons; the overflow entries among them).
    if (int err = bpf_map__set_max_entries(p->skel_->maps.lat_hist, opt.max_iface_keys))
        return os_error(err, "size lat_hist");
    if (int err = bpf_map__set_max_entries(p->skel_->maps.conn_fail, opt.max_iface_keys))
        return os_error(err, "size conn_fail");
    for (auto* m : {p->skel_->maps.lat_carry, p->skel_->maps.fail_carry})
        if (int err = bpf_map__set_max_entries(m, opt.max_iface_keys + 1))
            return os_error(err, std::string("size ") + bpf_map__name(m));
    if (opt.pins)
        opt.pins->prepare(p->skel_->obj, "tcp_latency",
                          {"lat_hist", "conn_fail", "lat_carry", "fail_carry"});
    if (auto st = load_skeleton(p->skel_.get(), "tcp_latency"); !st)
        return st.error();
    if (auto st = create_overflow_entries<tif_lat_hist_val>(p->skel_->maps.lat_hist, TIF_HIST_MAX,
                                                            "lat_hist");
        !st)
        return st.error();
    if (auto st = create_overflow_entries<tif_conn_fail_val>(p->skel_->maps.conn_fail,
                                                             TIF_CONN_FAIL_MAX, "conn_fail");
        !st)
        return st.error();

    p->hist_keys_ = std::make_shared<IfaceKeyedMap>(
        "lat_hist", bpf_map__fd(p->skel_->maps.lat_hist), uint32_t(sizeof(tif_lat_key)),
        uint32_t(sizeof(tif_lat_hist_val) / 8), bpf_map__max_entries(p->skel_->maps.lat_hist),
        opt.host_netns_ino, host_ifname, bpf_map__fd(p->skel_->maps.lat_carry));
    p->fail_keys_ = std::make_shared<IfaceKeyedMap>(
        "conn_fail", bpf_map__fd(p->skel_->maps.conn_fail), uint32_t(sizeof(tif_lat_key)),
        uint32_t(sizeof(tif_conn_fail_val) / 8), bpf_map__max_entries(p->skel_->maps.conn_fail),
        opt.host_netns_ino, host_ifname, bpf_map__fd(p->skel_->maps.fail_carry));

    if (int err = tcp_latency_bpf::attach(p->skel_.get()))
        return os_error(err, "attach the tcp_latency programs");
    Log::msg(Level::info, "probe attached",
             Fields{{"probe", "tcp_latency"},
                    {"rtt_sample_interval_ns", opt.rtt_sample_interval_ns},
                    {"rtt_sample_interval_jiffies", interval_jiffies},
                    {"tick_ns", tick_ns},
                    {"tcp_sock_read", tcp_sock_read_name(*features)},
                    {"socket_state", storage ? "sk_storage" : "lru_hash"},
                    {"socket_cookie", socket_cookie_name(*features)}});
    return p;
}

int LatencyProbe::exemplars_map_fd() const {
    return bpf_map__fd(skel_->maps.rtt_exemplars);
}

std::vector<std::pair<std::string, int>> LatencyProbe::programs() const {
    return object_programs(skel_->obj);
}

Result<std::vector<LatHistSample>> LatencyProbe::read_histograms() const {
    std::vector<LatHistSample> out;
    std::unique_lock<std::mutex> hold;
    if (hist_keys_)
        hold = hist_keys_->hold_sweep();
    auto st = for_each_percpu_hash<tif_lat_key, tif_lat_hist_val>(
        bpf_map__fd(skel_->maps.lat_hist), [&](const tif_lat_key& k, const tif_lat_hist_val& v) {
            out.push_back({k, v});
        });
    if (!st)
        return st.error();
    if (hist_keys_)
        hist_keys_->append_carried(out, &LatHistSample::key, &LatHistSample::hist);
    return out;
}

Result<std::vector<ConnFailSample>> LatencyProbe::read_failures() const {
    std::vector<ConnFailSample> out;
    std::unique_lock<std::mutex> hold;
    if (fail_keys_)
        hold = fail_keys_->hold_sweep();
    auto st = for_each_percpu_hash<tif_lat_key, tif_conn_fail_val>(
        bpf_map__fd(skel_->maps.conn_fail), [&](const tif_lat_key& k, const tif_conn_fail_val& v) {
            out.push_back({k, v.count});
        });
    if (!st)
        return st.error();
    if (fail_keys_)
        fail_keys_->append_carried(out, &ConnFailSample::key, &ConnFailSample::count);
    return out;
}

Result<ProbeStats> LatencyProbe::read_stats() const {
    return read_probe_stats(bpf_map__fd(skel_->maps.tif_stats));
}

} // namespace tif

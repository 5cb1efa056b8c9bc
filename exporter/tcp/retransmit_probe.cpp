#include "tcp/retransmit_probe.h"

#include <cstddef>

#include "bpf/bpf_load.h"
#include "bpf/bpf_maps.h"
#include "bpf/kernel_features.h"
#include "log/clock.h"
#include "log/log.h"
#include "span/span_maps.h"
#include "tcp_retransmit.skel.h"

namespace tif {

static_assert(sizeof(tif_iface_ref) == 24, "tif_iface_ref layout shared with the probes");
static_assert(sizeof(tif_rtx_key) == 24, "tif_rtx_key layout shared with the probes");
static_assert(sizeof(tif_rtx_counts) == 8 * (2 * TIF_RTX_KIND_MAX + 3),
              "tif_rtx_counts layout shared with the probes");
static_assert(sizeof(tif_rtx_event) == 184, "tif_rtx_event layout shared with the probes");
// The reader's fast path (interface, bound, kind) fits the first 64-byte line with the header.
static_assert(offsetof(tif_rtx_event, sock_cookie) == 40, "tif_rtx_event fast-path head");

RetransmitProbe::~RetransmitProbe() = default;

Result<std::unique_ptr<RetransmitProbe>> RetransmitProbe::start(const Options& opt) {
    std::unique_ptr<RetransmitProbe> p(new RetransmitProbe());
    p->skel_ = BpfSkeleton<tcp_retransmit_bpf>(tcp_retransmit_bpf::open());
    if (!p->skel_)
        return os_error(errno, "open BPF object tcp_retransmit");

    // Kernels from 6.13 pass the retransmit's result as a third argument and fire the
    // tracepoint for failed attempts too; older ones fire only on success. Before 5.12 the
    // programs read the socket's existing cookie instead of calling the helper.
    auto features = kernel_features();
    if (!features)
        return features.error();
    p->skel_->rodata->tp_has_err = features->tcp_retransmit_err;
    // Exact segment counts need the socket's last total_retrans (socket storage, 5.11+).
    p->skel_->rodata->have_sk_storage = features->tracing_sk_storage;
    set_compat_flags(*p->skel_->rodata, *features);
    p->skel_->rodata->host_netns_ino = opt.host_netns_ino;
    // The pre-limiter counts in jiffies (one load a retransmit, no clock read).
    p->skel_->rodata->jiffies_per_sec = ns_to_ticks(1'000'000'000, kernel_tick_ns());
    if (int err = bpf_map__set_max_entries(p->skel_->maps.rtx_events, opt.ringbuf_bytes))
        return os_error(err, "size ring buffer rtx_events to " + std::to_string(opt.ringbuf_bytes));

    // The span-binding table is the daemon's, shared by every probe (see span_maps.h).
    if (auto st = use_span_table(*p->skel_.get(), opt.span_maps, "tcp_retransmit"); !st)
        return st.error();

    // One key per interface (the overflow entry among them); the default keeps the layout
    // earlier versions pinned.
    if (int err = bpf_map__set_max_entries(p->skel_->maps.rtx_counts, opt.max_iface_keys))
        return os_error(err, "size rtx_counts");
    if (int err = bpf_map__set_max_entries(p->skel_->maps.rtx_carry, opt.max_iface_keys + 1))
        return os_error(err, "size rtx_carry");
    if (opt.pins)
        opt.pins->prepare(p->skel_->obj, "tcp_retransmit", {"rtx_counts", "rtx_carry"});
    if (auto st = load_skeleton(p->skel_.get(), "tcp_retransmit"); !st)
        return st.error();

    // The overflow entry must exist before the map can fill up (see count() in the probe).
    const tif_rtx_key overflow{};
    std::vector<tif_rtx_counts> zero(static_cast<size_t>(possible_cpus()));
    if (bpf_map_update_elem(bpf_map__fd(p->skel_->maps.rtx_counts), &overflow, zero.data(),
                            BPF_NOEXIST) != 0 &&
        errno != EEXIST)
        return os_error(errno, "create overflow entry in rtx_counts");
    p->set_log_limit(opt.log_event_rate, opt.log_event_burst);
    p->keys_ = std::make_shared<IfaceKeyedMap>(
        "rtx_counts", bpf_map__fd(p->skel_->maps.rtx_counts), uint32_t(sizeof(tif_rtx_key)),
        uint32_t(sizeof(tif_rtx_counts) / 8), bpf_map__max_entries(p->skel_->maps.rtx_counts),
        opt.host_netns_ino, host_ifname, bpf_map__fd(p->skel_->maps.rtx_carry));

    if (int err = tcp_retransmit_bpf::attach(p->skel_.get()))
        return os_error(err, "attach tp_btf/tcp_retransmit_skb and tp_btf/tcp_retransmit_synack");
    Log::msg(Level::info, "probe attached",
             Fields{{"probe", "tcp_retransmit"},
                    {"tp_has_err", bool(p->skel_->rodata->tp_has_err)},
                    {"segs_from", features->tracing_sk_storage ? "total_retrans" : "skb"},
                    {"tcp_sock_read", tcp_sock_read_name(*features)},
                    {"socket_cookie", socket_cookie_name(*features)}});
    return p;
}

std::vector<std::pair<std::string, int>> RetransmitProbe::programs() const {
    return object_programs(skel_->obj);
}

int RetransmitProbe::events_map_fd() const {
    return bpf_map__fd(skel_->maps.rtx_events);
}

Result<std::vector<RtxSample>> RetransmitProbe::read_counts(tif_rtx_counts* retired) const {
    std::vector<RtxSample> out;
    std::unique_lock<std::mutex> hold;
    if (keys_)
        hold = keys_->hold_sweep();
    auto st = for_each_percpu_hash<tif_rtx_key, tif_rtx_counts>(
        bpf_map__fd(skel_->maps.rtx_counts), [&](const tif_rtx_key& k, const tif_rtx_counts& v) {
            out.push_back({k, v});
        });
    if (!st)
        return st.error();
    if (keys_)
        keys_->append_carried(out, &RtxSample::key, &RtxSample::counts);
    if (retired) {
        *retired = {};
        if (keys_) {
            auto r = keys_->retired();
            std::memcpy(retired, r.data(), std::min(sizeof(*retired), r.size() * sizeof(r[0])));
        }
    }
    return out;
}

void RetransmitProbe::set_log_limit(uint32_t rate, uint32_t burst) {
    // Plain stores into the mmapped .bss: each program run reads the pair afresh.
    skel_->bss->log_event_burst = burst;
    skel_->bss->log_event_rate = rate;
}

Result<ProbeStats> RetransmitProbe::read_stats() const {
    return read_probe_stats(bpf_map__fd(skel_->maps.tif_stats));
}

} // namespace tif

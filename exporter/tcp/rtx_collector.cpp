#include "tcp/rtx_collector.h"

#include <map>

#include "tcp/rtx_event_json.h"

namespace tif {

Status RetransmitCollector::collect(std::vector<prometheus::MetricFamily>& out) {
    auto samples = probe_.read_counts();
    if (!samples)
        return samples.error();
    // Several kernel keys can map to one label (an interface renamed back and forth, or a
    // vanished ifindex): sum them so every series is emitted once.
    std::map<std::pair<std::string, std::string_view>, uint64_t> segs;
    for (const auto& s : *samples) {
        std::string iface = iface_label(s.key.iface, host_netns_ino_, names_);
        for (uint8_t kind = 0; kind < TIF_RTX_KIND_MAX; ++kind)
            // The pre-created overflow entry stays hidden until something lands in it, and so
            // does a kind the interface has not seen.
            if (s.counts.events[kind] != 0)
                segs[{iface, rtx_kind_name(kind)}] += s.counts.segs[kind];
    }
    auto fam = make_family("traceiface_tcp_retransmit_segments_total",
                           "TCP segments retransmitted, by the interface the flow's route leaves "
                           "by (host view) and retransmit kind; counts like TcpRetransSegs.",
                           prometheus::MetricType::Counter);
    for (const auto& [k, v] : segs)
        add_sample(fam, {{"iface", k.first}, {"kind", std::string(k.second)}}, double(v));
    out.push_back(std::move(fam));
    return Ok{};
}

Result<uint64_t> rtx_held_total(const RetransmitProbe& probe) {
    tif_rtx_counts retired{};
    auto samples = probe.read_counts(&retired);
    if (!samples)
        return samples.error();
    uint64_t n = retired.held;
    for (const auto& s : *samples)
        n += s.counts.held;
    return n;
}

Result<LogLimiter::Counts> rtx_held_lines(const RetransmitProbe& probe, uint32_t host_netns_ino,
                                          const IfNameLookup& names) {
    auto samples = probe.read_counts();
    if (!samples)
        return samples.error();
    LogLimiter::Counts held;
    for (const auto& s : *samples)
        if (s.counts.held != 0)
            held[{iface_label(s.key.iface, host_netns_ino, names), "tcp_retransmit"}] +=
                s.counts.held;
    return held;
}

} // namespace tif

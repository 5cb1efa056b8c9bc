#include "rtx_collector.h"

#include <map>

#include "rtx_event_json.h"

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
        std::string_view kind = rtx_kind_name(uint8_t(s.key.kind));
        // The pre-created overflow entries stay hidden until something lands in them.
        if (s.counts.events == 0)
            continue;
        segs[{iface, kind}] += s.counts.segs;
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

} // namespace tif

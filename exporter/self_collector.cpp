#include "self_collector.h"

#include <bpf/libbpf_version.h>
#include <sys/utsname.h>

#include "version.h"

namespace tif {

using prometheus::MetricType;

namespace {
// A pipeline's held events over every (iface, event); 0 without a pre-limiter.
Result<uint64_t> held_sum(const EventPipeline& p) {
    if (p.held_total)
        return p.held_total();
    if (!p.held)
        return uint64_t(0);
    auto h = p.held();
    if (!h)
        return h.error();
    uint64_t n = 0;
    for (const auto& [k, v] : *h)
        n += v;
    return n;
}
} // namespace

Status SelfCollector::collect(std::vector<prometheus::MetricFamily>& out) {
    utsname u{};
    uname(&u);
    auto info = make_family("traceiface_build_info",
                            "A metric with a constant '1' value labelled by version, revision, "
                            "libbpf version and the running kernel.",
                            MetricType::Gauge);
    add_sample(info,
               {{"version", TRACEIFACE_VERSION},
                {"revision", TRACEIFACE_REVISION},
                {"libbpf_version",
                 std::to_string(LIBBPF_MAJOR_VERSION) + "." + std::to_string(LIBBPF_MINOR_VERSION)},
                {"kernel", u.release}},
               1);
    out.push_back(std::move(info));

    auto produced =
        make_family("traceiface_events_produced_total",
                    "Events the kernel probes tried to send to user space.", MetricType::Counter);
    auto lost = make_family("traceiface_events_lost_total",
                            "Events lost before reaching user space, by stage (ringbuf_full: "
                            "bpf_ringbuf_reserve failed in the kernel).",
                            MetricType::Counter);
    auto held = make_family("traceiface_events_held_total",
                            "Events a probe kept in the kernel because their interface was over "
                            "--log.event-rate; their lines count in "
                            "traceiface_log_lines_suppressed_total.",
                            MetricType::Counter);
    auto consumed =
        make_family("traceiface_events_consumed_total",
                    "Events read from the ring buffer by the exporter.", MetricType::Counter);
    auto map_full = make_family("traceiface_aggregation_map_full_total",
                                "Times a probe's in-kernel aggregation map was full; the counts "
                                "went to the iface=\"/overflow\" series instead.",
                                MetricType::Counter);
    Status result = Ok{};
    for (const auto& p : pipelines_) {
        auto st = p.kernel_stats();
        if (!st) {
            result = st.error();
            continue;
        }
        add_sample(produced, {{"probe", p.probe}}, double((*st)[TIF_STAT_RB_PRODUCED]));
        add_sample(lost, {{"probe", p.probe}, {"stage", "ringbuf_full"}},
                   double((*st)[TIF_STAT_RB_LOST]));
        add_sample(map_full, {{"probe", p.probe}}, double((*st)[TIF_STAT_MAP_FULL]));
        add_sample(consumed, {{"probe", p.probe}}, double(p.consumed()));
        auto n = held_sum(p);
        if (!n) {
            result = n.error();
            continue;
        }
        add_sample(held, {{"probe", p.probe}}, double(*n));
    }
    for (auto* f : {&produced, &lost, &held, &consumed, &map_full})
        out.push_back(std::move(*f));
    return result;
}

uint64_t held_total(const std::vector<EventPipeline>& pipelines) {
    uint64_t n = 0;
    for (const auto& p : pipelines)
        if (auto h = held_sum(p))
            n += *h;
    return n;
}

} // namespace tif

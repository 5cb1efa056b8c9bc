#include "tcp/latency_collector.h"

#include <algorithm>
#include <array>
#include <map>

#include "tcp/log2_histogram.h"

namespace tif {

namespace {
constexpr double MICROSECOND = 1e-6;

void add_to(tif_lat_hist_val& a, const tif_lat_hist_val& b) {
    for (size_t i = 0; i < TIF_LAT_SLOTS; ++i)
        a.slots[i] += b.slots[i];
    a.sum_us += b.sum_us;
    a.count += b.count;
}
} // namespace

std::string_view connect_fail_reason(uint32_t which) {
    static constexpr std::array<std::string_view, TIF_CONN_FAIL_MAX> names = {"refused",
                                                                              "timed_out", "other"};
    return which < names.size() ? names[which] : "other";
}

Status LatencyCollector::collect(std::vector<prometheus::MetricFamily>& out) {
    Status hist = collect_histograms(out);
    Status fail = collect_failures(out);
    return !hist ? hist : fail;
}

Status LatencyCollector::collect_histograms(std::vector<prometheus::MetricFamily>& out) {
    auto samples = probe_.read_histograms();
    if (!samples)
        return samples.error();
    // Several kernel keys can map to one label (see RetransmitCollector): merge them.
    std::array<std::map<std::string, tif_lat_hist_val>, TIF_HIST_MAX> by_iface;
    for (const auto& s : *samples) {
        if (s.key.which >= TIF_HIST_MAX || s.hist.count == 0) // unused overflow entries
            continue;
        add_to(by_iface[s.key.which][iface_label(s.key.iface, host_netns_ino_, names_)], s.hist);
    }
    const std::array<std::pair<const char*, const char*>, TIF_HIST_MAX> meta = {{
        {"traceiface_tcp_rtt_seconds",
         "Smoothed RTT (srtt) of established TCP flows with data in flight, sampled once per flow "
         "per --tcp.rtt-sample-interval it is active in, by the interface the flow's route "
         "leaves by (host view)."},
        {"traceiface_tcp_connect_latency_seconds",
         "Time from the first SYN sent to the SYN-ACK received of active TCP opens, by the "
         "interface the flow's route leaves by (host view)."},
    }};
    for (size_t h = 0; h < TIF_HIST_MAX; ++h) {
        auto fam = make_family(meta[h].first, meta[h].second, prometheus::MetricType::Histogram);
        for (const auto& [iface, v] : by_iface[h]) {
            prometheus::ClientMetric m;
            m.label = {{"iface", iface}};
            std::array<uint64_t, TIF_LAT_SLOTS> slots; // __u64 is unsigned long long
            std::copy(std::begin(v.slots), std::end(v.slots), slots.begin());
            m.histogram = log2_histogram(slots, double(v.sum_us), MICROSECOND);
            fam.metric.push_back(std::move(m));
        }
        out.push_back(std::move(fam));
    }
    return Ok{};
}

Status LatencyCollector::collect_failures(std::vector<prometheus::MetricFamily>& out) {
    auto samples = probe_.read_failures();
    if (!samples)
        return samples.error();
    std::map<std::pair<std::string, std::string_view>, uint64_t> counts;
    for (const auto& s : *samples) {
        if (s.count == 0)
            continue;
        counts[{iface_label(s.key.iface, host_netns_ino_, names_),
                connect_fail_reason(s.key.which)}] += s.count;
    }
    auto fam = make_family("traceiface_tcp_connect_failures_total",
                           "Active TCP opens that failed (SYN_SENT -> CLOSE), by interface and "
                           "reason: refused (RST), timed_out (no answer to the SYNs), other.",
                           prometheus::MetricType::Counter);
    for (const auto& [k, v] : counts)
        add_sample(fam, {{"iface", k.first}, {"reason", std::string(k.second)}}, double(v));
    out.push_back(std::move(fam));
    return Ok{};
}

} // namespace tif

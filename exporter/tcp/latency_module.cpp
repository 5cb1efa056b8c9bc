// Module "tcp_latency": the RTT / connect-latency probe and its collector. The histograms are
// aggregated in the kernel and read at scrape time; the only events are RTT samples of flows
// bound to a trace, which become the OpenMetrics exemplars of the RTT histogram.
#include <cstring>

#include "log/clock.h"
#include "module.h"
#include "net/iface_label.h"
#include "openmetrics.h"
#include "tcp/latency_collector.h"
#include "tcp/latency_probe.h"
#include "tcp/rtx_event_json.h"

namespace tif {

namespace {
void record_rtt_exemplar(std::span<const std::byte> rec, uint32_t host_ino, ExemplarTable& ex) {
    tif_rtt_exemplar_event e{};
    if (rec.size() < sizeof(e)) // the kernel only submits whole events
        return;
    std::memcpy(&e, rec.data(), sizeof(e));
    const int64_t realtime_ns = int64_t(e.ts_boot_ns) + boottime_to_realtime_offset_ns();
    ex.add_histogram("traceiface_tcp_rtt_seconds",
                     {{"iface", iface_label(e.iface, host_ino, host_ifname)}},
                     Exemplar{{{"trace_id", hex_id(e.trace_id, sizeof(e.trace_id))},
                               {"span_id", hex_id(e.span_id, sizeof(e.span_id))}},
                              double(e.srtt_us) / 1e6,
                              double(realtime_ns) / 1e9});
}
} // namespace

Status start_latency_module(DaemonContext& ctx) {
    auto probe = LatencyProbe::start({.host_netns_ino = ctx.host_netns_ino,
                                      .rtt_sample_interval_ns = ctx.opt.tcp_rtt_sample_interval_ns,
                                      .span_maps = ctx.span_maps,
                                      .pins = ctx.pins.get(),
                                      .max_iface_keys = ctx.opt.tcp_max_iface_keys});
    if (!probe)
        return probe.error();
    std::shared_ptr<LatencyProbe> p = std::move(*probe);
    const uint32_t host = ctx.host_netns_ino;
    auto reader = RingReader::create(
        ctx.io, "rtt_exemplars", p->exemplars_map_fd(),
        [host, ex = &ctx.registry.exemplars()](std::span<const std::byte> rec) {
            record_rtt_exemplar(rec, host, *ex);
        },
        nullptr, std::chrono::nanoseconds(ctx.opt.ringbuf_flush_interval_ns));
    if (!reader)
        return reader.error();
    RingReader* r = reader->get();
    ctx.registry.add(std::make_unique<LatencyCollector>(*p, ctx.host_netns_ino, host_ifname));
    if (ctx.iface_lifecycle) {
        ctx.iface_lifecycle->add_map(p->hist_keys());
        ctx.iface_lifecycle->add_map(p->fail_keys());
    }
    ctx.pipelines.push_back(
        {"tcp_latency", [p] { return p->read_stats(); }, [r] { return r->consumed(); }});
    for (auto& [name, fd] : p->programs())
        ctx.programs.push_back({name, fd});
    ctx.keep_alive.push_back(p);
    ctx.readers.push_back(std::move(*reader));
    return Ok{};
}

} // namespace tif

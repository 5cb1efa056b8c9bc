// Module "tcp_retransmit": the retransmit probe, its collector and its JSON event lines.
#include <atomic>
#include <cstddef>
#include <cstring>

#include "log/clock.h"
#include "log/log.h"
#include "module.h"
#include "net/iface_label.h"
#include "tcp/retransmit_probe.h"
#include "tcp/rtx_collector.h"
#include "tcp/rtx_event_json.h"
#include "tcp/rtx_record.h"

namespace tif {

namespace {
// A bound retransmit becomes the exemplar of its (iface, kind) counter: the latest one wins.
void record_exemplar(ExemplarTable& ex, const tif_rtx_event& e, const std::string& iface,
                     int64_t realtime_ns) {
    ex.set_counter("traceiface_tcp_retransmit_segments_total",
                   {{"iface", iface}, {"kind", std::string(rtx_kind_name(e.kind))}},
                   Exemplar{{{"trace_id", hex_id(e.trace_id, sizeof(e.trace_id))},
                             {"span_id", hex_id(e.span_id, sizeof(e.span_id))}},
                            double(e.segs),
                            double(realtime_ns) / 1e9});
}

} // namespace

void log_rtx_record(std::span<const std::byte> rec, uint32_t host_ino, ExemplarTable& ex,
                    LogLimiter* limiter, const PodDirectory* pods) {
    tif_rtx_event e{};
    if (rec.size() < sizeof(e)) // the kernel only submits whole events
        return;
    // In a storm the limiter holds most lines back: the head of the record (first cache line)
    // decides; the rest, the clock offset (three clock reads) and the route label are only
    // read and worked out for the exemplars and the lines that are written.
    std::memcpy(&e, rec.data(), offsetof(tif_rtx_event, sock_cookie));
    static const IfNameLookup names = host_ifname;
    std::string iface = iface_label(e.iface, host_ino, names);
    const bool write = !limiter || limiter->allow(iface, "tcp_retransmit");
    if (!write && !e.bound)
        return; // counted as suppressed
    std::memcpy(&e, rec.data(), sizeof(e));
    const int64_t offset_ns = boottime_to_realtime_offset_ns(); // once: three clock reads
    if (e.bound)
        record_exemplar(ex, e, iface, int64_t(e.ts_boot_ns) + offset_ns);
    if (!write)
        return;
    std::optional<PodIdentity> pod;
    std::optional<PodCgroup> cg;
    RtxPodContext ctx;
    if (pods && e.route_iface.netns_ino != host_ino) {
        pod = pods->by_netns_ino(e.route_iface.netns_ino);
        // Its container, where the socket's cgroup is one of that pod's (cgroup v2 nodes).
        if (pod && e.sk_cgroup_id != 0 && (cg = pods->by_cgroup_or_wake(e.sk_cgroup_id)) &&
            cg->id.uid == pod->uid)
            ctx.container_id = cg->container_id;
    } else if (pods && pods->active()) {
        // The node's netns: a hostNetwork pod's socket is known by its cgroup alone.
        ctx.host_network = true;
        if (e.sk_cgroup_id != 0 && (cg = pods->by_cgroup_or_wake(e.sk_cgroup_id))) {
            pod = cg->id;
            ctx.container_id = cg->container_id;
        }
    }
    ctx.pod = pod ? &*pod : nullptr;
    Log::event(
        rtx_event_json(e, offset_ns, iface, iface_label(e.route_iface, host_ino, names), ctx));
}

Status start_retransmit_module(DaemonContext& ctx) {
    auto probe = RetransmitProbe::start({.host_netns_ino = ctx.host_netns_ino,
                                         .ringbuf_bytes = ctx.opt.ringbuf_bytes,
                                         .span_maps = ctx.span_maps,
                                         .pins = ctx.pins.get(),
                                         .log_event_rate = ctx.opt.log_event_rate,
                                         .log_event_burst = ctx.opt.log_event_burst,
                                         .max_iface_keys = ctx.opt.tcp_max_iface_keys});
    if (!probe)
        return probe.error();
    std::shared_ptr<RetransmitProbe> p = std::move(*probe);
    const uint32_t host = ctx.host_netns_ino;
    auto reader = RingReader::create(
        ctx.io, "rtx_events", p->events_map_fd(),
        [host, ex = &ctx.registry.exemplars(), lim = ctx.event_log_limiter,
         pods = ctx.pods](std::span<const std::byte> rec) {
            log_rtx_record(rec, host, *ex, lim.get(), pods.get());
        },
        [] { Log::flush(); }, std::chrono::nanoseconds(ctx.opt.ringbuf_flush_interval_ns));
    if (!reader)
        return reader.error();
    RingReader* r = reader->get();
    ctx.registry.add(std::make_unique<RetransmitCollector>(*p, host, host_ifname));
    if (ctx.iface_lifecycle)
        ctx.iface_lifecycle->add_map(p->iface_keys());
    ctx.pipelines.push_back({"tcp_retransmit", [p] { return p->read_stats(); },
                             [r] { return r->consumed(); },
                             [p, host] { return rtx_held_lines(*p, host, host_ifname); },
                             [p] { return rtx_held_total(*p); }});
    // The pre-limiter follows the log limit across reloads.
    ctx.on_reload.push_back([p](const Options& o) -> Status {
        p->set_log_limit(o.log_event_rate, o.log_event_burst);
        return Ok{};
    });
    for (auto& [name, fd] : p->programs())
        ctx.programs.push_back({name, fd});
    ctx.keep_alive.push_back(p);
    ctx.readers.push_back(std::move(*reader));
    return Ok{};
}

} // namespace tif

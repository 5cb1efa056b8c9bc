// Module "tcp_retransmit": the retransmit probe, its collector and its JSON event lines.
#include <atomic>
#include <cstring>

#include "clock.h"
#include "iface_label.h"
#include "log.h"
#include "module.h"
#include "retransmit_probe.h"
#include "rtx_collector.h"
#include "rtx_event_json.h"

namespace tif {

namespace {
void log_rtx_record(std::span<const std::byte> rec, uint32_t host_ino) {
    tif_rtx_event e{};
    if (rec.size() < sizeof(e)) // the kernel only submits whole events
        return;
    std::memcpy(&e, rec.data(), sizeof(e));
    std::string iface = iface_label(e.iface, host_ino, host_ifname);
    std::string route = iface_label(e.route_iface, host_ino, host_ifname);
    Log::event(rtx_event_json(e, boottime_to_realtime_offset_ns(), iface, route));
}
} // namespace

Status start_retransmit_module(DaemonContext& ctx) {
    auto probe = RetransmitProbe::start(
        {.host_netns_ino = ctx.host_netns_ino, .ringbuf_bytes = ctx.opt.ringbuf_bytes});
    if (!probe)
        return probe.error();
    std::shared_ptr<RetransmitProbe> p = std::move(*probe);
    const uint32_t host = ctx.host_netns_ino;
    auto reader = RingReader::create(
        ctx.io, "rtx_events", p->events_map_fd(),
        [host](std::span<const std::byte> rec) { log_rtx_record(rec, host); },
        [] { Log::flush(); });
    if (!reader)
        return reader.error();
    RingReader* r = reader->get();
    ctx.registry.add(std::make_unique<RetransmitCollector>(*p, host, host_ifname));
    ctx.pipelines.push_back(
        {"tcp_retransmit", [p] { return p->read_stats(); }, [r] { return r->consumed(); }});
    for (auto& [name, fd] : p->programs())
        ctx.programs.push_back({name, fd});
    ctx.keep_alive.push_back(p);
    ctx.readers.push_back(std::move(*reader));
    return Ok{};
}

} // namespace tif

// Module "tc_packets": per-interface packet/byte/size/oversize counters from tc clsact,
// attached to every interface rtnetlink reports that passes --iface.include/--iface.exclude.
#include <chrono>

#include "log.h"
#include "module.h"
#include "netlink_watcher.h"
#include "packet_collector.h"
#include "packet_manager.h"
#include "tc_stats_probe.h"

namespace tif {

namespace {
Result<IfaceFilter> make_filter(const Options& opt) {
    try {
        IfaceFilter f{std::regex(opt.iface_include), std::nullopt};
        if (!opt.iface_exclude.empty())
            f.exclude = std::regex(opt.iface_exclude);
        return f;
    } catch (const std::regex_error& e) {
        return Error{EINVAL, std::string("compile --iface.include/--iface.exclude: ") + e.what()};
    }
}
} // namespace

Status start_packet_module(DaemonContext& ctx) {
    auto filter = make_filter(ctx.opt);
    if (!filter)
        return filter.error();
    // Twice as many counter slots as interfaces: vanished interfaces keep theirs for the
    // grace period while new ones arrive (churn), without cutting that period short.
    auto probe = TcStatsProbe::load(ctx.opt.iface_max, 2 * ctx.opt.iface_max);
    if (!probe)
        return probe.error();
    std::shared_ptr<TcStatsProbe> p = std::move(*probe);
    auto mgr =
        std::make_shared<PacketManager>(*p, std::move(*filter), ctx.opt.iface_max,
                                        std::chrono::nanoseconds(ctx.opt.iface_stale_grace_ns));
    auto watcher = NetlinkWatcher::create(
        ctx.io, [m = mgr.get()](const std::vector<IfaceChange>& changes, const IfaceTable& t) {
            m->on_changes(changes, t);
        });
    if (!watcher)
        return watcher.error();
    std::shared_ptr<NetlinkWatcher> w = std::move(*watcher);
    if (auto st = w->start(); !st)
        return st.error();
    ctx.registry.add(std::make_unique<PacketCollector>(*mgr));
    // Destroyed in reverse: the watcher stops, the manager detaches our filters, and only then
    // the programs and maps go.
    ctx.keep_alive.push_back(p);
    ctx.keep_alive.push_back(mgr);
    ctx.keep_alive.push_back(w);
    // Reload: a new interface filter applies at once (other iface.* options need a restart).
    ctx.on_reload.push_back([w, mgr](const Options& o) -> Status {
        auto f = make_filter(o);
        if (!f)
            return f.error();
        mgr->set_filter(std::move(*f), w->table());
        return Ok{};
    });
    ctx.on_stop.push_back([w, mgr] {
        w->stop();
        mgr->release_all();
    });
    Log::msg(Level::info, "probe attached",
             Fields{{"probe", "tc_packets"},
                    {"iface_include", ctx.opt.iface_include},
                    {"iface_exclude", ctx.opt.iface_exclude},
                    {"iface_max", ctx.opt.iface_max}});
    return Ok{};
}

} // namespace tif

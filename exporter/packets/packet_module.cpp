// Module "tc_packets": per-interface packet/byte/size/oversize counters from tc programs
// (tcx links or clsact filters, --bpf.tc-attach), attached to every interface rtnetlink reports
// that passes --iface.include/--iface.exclude.
#include <bpf/bpf.h>

#include <chrono>

#include "log/log.h"
#include "module.h"
#include "net/netlink_watcher.h"
#include "net/tcx_link.h"
#include "packets/packet_collector.h"
#include "packets/packet_manager.h"
#include "packets/tc_stats_probe.h"

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
// --bpf.tc-attach against this kernel: auto takes tcx where there is one.
Result<TcHook> resolve_hook(const Options& opt, const TcStatsProbe& probe, const PinStore& pins) {
    TcHook h;
    const bool tcx = tcx_supported(probe.prog_fd(TcDir::ingress));
    if (opt.tc_attach == TcAttach::tcx && !tcx)
        return Error{EOPNOTSUPP, "--bpf.tc-attach=tcx: this kernel has no tcx links (Linux "
                                 "6.6+); use auto or clsact"};
    h.attach =
        opt.tc_attach == TcAttach::auto_ ? (tcx ? TcAttach::tcx : TcAttach::clsact) : opt.tc_attach;
    if (pins.enabled())
        h.pin_dir = pins.dir() + "/tc_stats";
    return h;
}

uint32_t prog_id_of(int prog_fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}

// A crashed predecessor's filters run its own programs: tc_attach takes them over in place
// only if it recognises them, by name (needs CAP_SYS_ADMIN: collected now, before the
// capabilities are dropped) or by the ids it recorded in the pin directory. Its bindings
// (adopted pinned maps) keep their slots, so those interfaces' counters continue.
Status adopt_predecessor(TcStatsProbe& probe, PacketManager& mgr, PinStore& pins) {
    auto previous = pins.swap_prog_ids("tc_stats", {prog_id_of(probe.prog_fd(TcDir::ingress)),
                                                    prog_id_of(probe.prog_fd(TcDir::egress))});
    if (!previous)
        Log::msg(Level::warn, "could not record the tc program ids in the pin directory",
                 Fields{{"error", previous.error().message()}});
    else
        tc_add_known_ids(*previous);
    tc_add_known_ids(tc_loaded_programs_named_ours());
    if (!probe.adopted())
        return Ok{};
    auto bindings = probe.bindings();
    if (!bindings)
        return bindings.error();
    mgr.adopt(*bindings);
    return Ok{};
}
} // namespace

Status start_packet_module(DaemonContext& ctx) {
    auto filter = make_filter(ctx.opt);
    if (!filter)
        return filter.error();
    // Twice as many counter slots as interfaces: vanished interfaces keep theirs for the
    // grace period while new ones arrive (churn), without cutting that period short.
    auto probe = TcStatsProbe::load(ctx.opt.iface_max, 2 * ctx.opt.iface_max, *ctx.pins);
    if (!probe)
        return probe.error();
    std::shared_ptr<TcStatsProbe> p = std::move(*probe);
    auto hook = resolve_hook(ctx.opt, *p, *ctx.pins);
    if (!hook)
        return hook.error();
    const TcAttach attach = hook->attach;
    auto mgr =
        std::make_shared<PacketManager>(*p, std::move(*hook), std::move(*filter), ctx.opt.iface_max,
                                        std::chrono::nanoseconds(ctx.opt.iface_stale_grace_ns));
    if (auto st = adopt_predecessor(*p, *mgr, *ctx.pins); !st)
        return st.error();
    auto watcher = NetlinkWatcher::create(
        ctx.io, [m = mgr.get(), pods = ctx.pods](const std::vector<IfaceChange>& changes,
                                                 const IfaceTable& t) {
            m->on_changes(changes, t);
            // A veth into a namespace no pod is known for: the pod is being created, ask the
            // k8s resolver to list again now (it retries for a few seconds). A CNI plugin's
            // veth is announced first without its peer's netnsid and gets it in a change a
            // few ms later, so changes count too (wake_for_nsid limits the rate).
            for (const auto& c : changes)
                if (c.what != IfaceChange::What::removed && c.now.link_other_netns)
                    pods->wake_for_nsid(c.now.link_netnsid);
        });
    if (!watcher)
        return watcher.error();
    std::shared_ptr<NetlinkWatcher> w = std::move(*watcher);
    if (auto st = w->start(); !st)
        return st.error();
    ctx.registry.add(std::make_unique<PacketCollector>(*mgr, ctx.pods));
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
    // Stop: detach the links and filters (no code of ours runs on a stopped exporter's behalf) but
    // keep the bindings in the pinned slot maps, so a restart continues the counters.
    ctx.on_stop.push_back([w, mgr, keep = ctx.pins->enabled()] {
        w->stop();
        mgr->release_all(keep);
    });
    Log::msg(Level::info, "probe attached",
             Fields{{"probe", "tc_packets"},
                    {"attach", tc_attach_name(attach)},
                    {"iface_include", ctx.opt.iface_include},
                    {"iface_exclude", ctx.opt.iface_exclude},
                    {"iface_max", ctx.opt.iface_max}});
    return Ok{};
}

} // namespace tif

#include "packets/packet_manager.h"

#include "log/log.h"

namespace tif {

namespace {
constexpr TcDir kDirs[] = {TcDir::ingress, TcDir::egress};
}

bool IfaceFilter::matches(const std::string& name) const {
    return std::regex_match(name, include) && !(exclude && std::regex_match(name, *exclude));
}

PacketManager::PacketManager(TcStatsProbe& probe, TcHook hook, IfaceFilter filter,
                             uint32_t max_ifaces, Clock::duration grace)
    : probe_(probe), hook_(std::move(hook)), filter_(std::move(filter)), max_(max_ifaces),
      slots_(probe.slots(), grace), labels_(probe.slots()) {}

PacketManager::~PacketManager() {
    release_all();
}

void PacketManager::on_changes(const std::vector<IfaceChange>& changes, const IfaceTable& table) {
    std::lock_guard lk(mu_);
    for (const auto& c : changes)
        handle(c, table);
    if (!settled_ && table.dumps_completed() > 0)
        settle_adopted(table);
}

void PacketManager::adopt(const std::vector<std::pair<uint32_t, tif_tc_slot>>& bindings) {
    std::lock_guard lk(mu_);
    for (const auto& [ifindex, b] : bindings) {
        if (slots_.reserve(b.slot)) {
            adopted_[ifindex] = b.slot;
            continue;
        }
        // Out of range or a second claim on one slot: not a binding we can trust.
        Log::msg(Level::warn, "pinned slot binding dropped",
                 Fields{{"ifindex", ifindex}, {"slot", b.slot}});
        (void)probe_.unbind(ifindex);
    }
    if (!adopted_.empty())
        Log::msg(Level::info, "slot bindings adopted from pinned maps",
                 Fields{{"interfaces", adopted_.size()}});
}

void PacketManager::settle_adopted(const IfaceTable& table) {
    settled_ = true;
    for (const auto& [ifindex, slot] : adopted_) {
        const bool exists = table.find(ifindex) != nullptr;
        // Still there but no longer ours to watch (filter, cap): the predecessor's filters
        // would count on into nowhere. Ours = named like ours or a recorded predecessor id.
        if (exists)
            drop_leftovers(ifindex, false);
        (void)probe_.unbind(ifindex);
        slots_.drop(slot); // zeroed before it is handed out again
        Log::msg(Level::info, "adopted slot freed",
                 Fields{{"ifindex", ifindex},
                        {"slot", slot},
                        {"reason", exists ? "not watched" : "vanished"}});
    }
    adopted_.clear();
    // The links a predecessor pinned for interfaces we do not watch: vanished ones (their
    // links went down with the device), filtered out or over the cap (still counting).
    for (const auto& p : tcx_pins(hook_.pin_dir))
        if (!watched_.count(p.ifindex))
            drop_tcx_pin(p.path);
}

void PacketManager::set_filter(IfaceFilter filter, const IfaceTable& table) {
    std::lock_guard lk(mu_);
    filter_ = std::move(filter);
    std::vector<uint32_t> drop;
    for (const auto& [ifindex, w] : watched_) {
        const LinkMsg* l = table.find(ifindex);
        if (!l || !filter_.matches(l->name))
            drop.push_back(ifindex);
    }
    for (uint32_t ifindex : drop)
        unwatch(ifindex, false);
    for (const auto& [ifindex, l] : table.all())
        if (!watched_.count(ifindex) && filter_.matches(l.name))
            watch(l);
}

void PacketManager::release_all(bool keep_bindings) {
    std::lock_guard lk(mu_);
    while (!watched_.empty())
        unwatch(watched_.begin()->first, false, keep_bindings);
}

void PacketManager::handle(const IfaceChange& c, const IfaceTable& table) {
    const LinkMsg& l = c.now;
    names_[l.ifindex] = l.name;
    if (c.what == IfaceChange::What::removed) {
        names_.erase(l.ifindex);
        refused_.erase(l.ifindex);
        if (watched_.count(l.ifindex)) {
            unwatch(l.ifindex, true);
            retry_refused(table);
        }
        return;
    }
    auto it = watched_.find(l.ifindex);
    if (it == watched_.end()) {
        if (filter_.matches(l.name))
            watch(l);
        else
            refused_.erase(l.ifindex); // renamed out of the filter while waiting for room
        return;
    }
    if (!filter_.matches(l.name)) { // renamed out of the filter
        unwatch(l.ifindex, false);
        retry_refused(table);
        return;
    }
    const uint32_t slot = it->second.slot;
    if (!c.old_name.empty())
        Log::msg(Level::info, "interface renamed",
                 Fields{{"ifindex", l.ifindex}, {"from", c.old_name}, {"to", l.name}});
    if (c.mtu_changed) {
        // The oversize threshold follows the MTU; the counters stay.
        if (auto st =
                probe_.bind(l.ifindex, slot, max_frame_len(l.type, l.mtu), l2_header_len(l.type));
            !st)
            Log::msg(Level::warn, "could not update the MTU of a watched interface",
                     Fields{{"iface", l.name}, {"error", st.error().message()}});
    }
    labels_[slot].link = l;
}

bool PacketManager::watch(const LinkMsg& l) {
    const auto refuse = [&](const char* why) {
        if (refused_.insert(l.ifindex).second) {
            ++refused_total_;
            Log::msg(Level::warn, "interface not watched",
                     Fields{{"iface", l.name}, {"ifindex", l.ifindex}, {"reason", why}});
        }
        return false;
    };
    if (watched_.size() >= max_)
        return refuse("--iface.max reached");
    // A predecessor's interface keeps its slot, and its counts (no zeroing).
    const auto adopted = adopted_.find(l.ifindex);
    const bool continued = adopted != adopted_.end();
    std::optional<uint32_t> slot;
    if (continued) {
        slot = adopted->second;
        adopted_.erase(adopted);
    } else {
        slot = slots_.acquire(Clock::now());
    }
    if (!slot)
        return refuse("no counter slot free");
    Watched w;
    w.slot = *slot;
    const auto fail = [&](const Error& e) {
        // ENODEV: the device went away while we attached (churn); its DELLINK follows.
        const bool gone = e.err == ENODEV;
        if (!gone)
            ++attach_failures_;
        Log::msg(gone ? Level::debug : Level::error, "could not watch interface",
                 Fields{{"iface", l.name}, {"ifindex", l.ifindex}, {"error", e.message()}});
        detach(l.ifindex, w);
        (void)probe_.unbind(l.ifindex);
        slots_.drop(w.slot);
        return false;
    };
    if (!continued)
        if (auto st = probe_.zero(w.slot); !st)
            return fail(st.error());
    if (auto st =
            probe_.bind(l.ifindex, w.slot, max_frame_len(l.type, l.mtu), l2_header_len(l.type));
        !st)
        return fail(st.error());
    if (auto st = attach(l.ifindex, w); !st)
        return fail(st.error());
    Fields f{{"iface", l.name},
             {"ifindex", l.ifindex},
             {"slot", w.slot},
             {"counters_continued", continued},
             {"attach", tc_attach_name(hook_.attach)}};
    if (hook_.attach == TcAttach::tcx)
        f["took_over_link"] = w.link[0].took_over() || w.link[1].took_over();
    else
        f["created_clsact"] = w.created_qdisc;
    labels_[w.slot] = SlotLabels{l.ifindex, l};
    watched_[l.ifindex] = std::move(w);
    refused_.erase(l.ifindex);
    Log::msg(Level::info, "interface watched", f);
    return true;
}

void PacketManager::unwatch(uint32_t ifindex, bool device_gone, bool keep_binding) {
    auto it = watched_.find(ifindex);
    if (it == watched_.end())
        return;
    Watched w = std::move(it->second);
    watched_.erase(it);
    // A vanished device took its qdisc, filters and links with it; the links' pins remain.
    if (!device_gone)
        detach(ifindex, w);
    else
        for (auto& link : w.link)
            (void)link.detach();
    if (!keep_binding)
        if (auto st = probe_.unbind(ifindex); !st)
            Log::msg(Level::warn, "unbind failed", Fields{{"error", st.error().message()}});
    slots_.release(w.slot, Clock::now());
    Log::msg(Level::info, device_gone ? "interface vanished" : "interface released",
             Fields{{"iface", labels_[w.slot].link.name}, {"ifindex", ifindex}, {"slot", w.slot}});
}

void PacketManager::retry_refused(const IfaceTable& table) {
    while (!refused_.empty() && watched_.size() < max_) {
        uint32_t ifindex = *refused_.begin();
        refused_.erase(refused_.begin());
        if (const LinkMsg* l = table.find(ifindex); l && filter_.matches(l->name))
            watch(*l);
    }
}

std::string PacketManager::name_of(uint32_t ifindex) const {
    if (ifindex == 0)
        return "";
    auto it = names_.find(ifindex);
    return it != names_.end() ? it->second : "/ifindex-" + std::to_string(ifindex);
}

Result<PacketSnapshot> PacketManager::snapshot() {
    std::lock_guard lk(mu_);
    const auto now = Clock::now();
    PacketSnapshot s;
    s.watched = watched_.size();
    s.refused_total = refused_total_;
    s.attach_failures_total = attach_failures_;
    std::map<std::string, size_t> by_name; // one series per name: the newest interface wins
    for (uint32_t slot = 0; slot < slots_.capacity(); ++slot) {
        if (!slots_.visible(slot, now))
            continue;
        const SlotLabels& lb = labels_[slot];
        if (lb.ifindex == 0)
            continue; // adopted from a predecessor, not watched (yet): nothing to label it with
        IfaceSeries is;
        is.link = lb.link;
        is.kind = IfaceTable::kind_of(lb.link);
        is.master = name_of(lb.link.master);
        is.link_name =
            lb.link.link_other_netns || lb.link.link == lb.ifindex ? "" : name_of(lb.link.link);
        is.gone = !slots_.active(slot);
        for (TcDir d : kDirs) {
            auto c = probe_.read(slot, d);
            if (!c)
                return c.error();
            is.dir[int(d)] = *c;
        }
        auto [it, fresh] = by_name.emplace(is.link.name, s.ifaces.size());
        if (fresh) {
            s.ifaces.push_back(std::move(is));
            continue;
        }
        IfaceSeries& prev = s.ifaces[it->second];
        if (prev.gone && !is.gone)
            prev = std::move(is);
    }
    return s;
}

} // namespace tif

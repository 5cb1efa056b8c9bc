#include "net/iface_table.h"

#include <linux/if_arp.h>

namespace tif {

std::vector<IfaceChange> IfaceTable::apply(const LinkMsg& m) {
    std::vector<IfaceChange> out;
    auto it = links_.find(m.ifindex);
    if (m.deleted) {
        if (it == links_.end())
            return out;
        out.push_back({IfaceChange::What::removed, it->second, {}, false});
        links_.erase(it);
        seen_.erase(m.ifindex);
        return out;
    }
    seen_[m.ifindex] = generation_;
    if (it == links_.end()) {
        links_.emplace(m.ifindex, m);
        out.push_back({IfaceChange::What::added, m, {}, false});
        return out;
    }
    LinkMsg& old = it->second;
    // A NEWLINK repeats everything, but some notifications (e.g. from a master) may omit
    // attributes: keep what we knew rather than blank it.
    LinkMsg now = m;
    if (now.name.empty())
        now.name = old.name;
    if (now.mtu == 0)
        now.mtu = old.mtu;
    if (now.kind.empty())
        now.kind = old.kind;
    IfaceChange c{IfaceChange::What::changed, now, {}, now.mtu != old.mtu};
    if (now.name != old.name)
        c.old_name = old.name;
    old = now;
    out.push_back(std::move(c));
    return out;
}

std::vector<IfaceChange> IfaceTable::end_dump() {
    ++dumps_completed_;
    std::vector<IfaceChange> out;
    for (auto it = links_.begin(); it != links_.end();) {
        if (seen_[it->first] == generation_) {
            ++it;
            continue;
        }
        out.push_back({IfaceChange::What::removed, it->second, {}, false});
        seen_.erase(it->first);
        it = links_.erase(it);
    }
    return out;
}

const LinkMsg* IfaceTable::find(uint32_t ifindex) const {
    auto it = links_.find(ifindex);
    return it == links_.end() ? nullptr : &it->second;
}

std::string IfaceTable::kind_of(const LinkMsg& m) {
    if (!m.kind.empty())
        return m.kind;
    return m.type == ARPHRD_LOOPBACK ? "loopback" : "device";
}

} // namespace tif

#include "k8s/pod_directory.h"

namespace tif {

std::optional<PodIdentity> PodDirectory::by_netns_ino(uint64_t ino) const {
    std::lock_guard lk(mu_);
    auto it = by_ino_.find(ino);
    if (it == by_ino_.end())
        return std::nullopt;
    return it->second.p.id;
}

std::optional<PodIdentity> PodDirectory::by_nsid(int32_t nsid) const {
    if (nsid < 0)
        return std::nullopt;
    std::lock_guard lk(mu_);
    auto n = nsid_to_ino_.find(nsid);
    if (n == nsid_to_ino_.end())
        return std::nullopt;
    auto it = by_ino_.find(n->second);
    if (it == by_ino_.end())
        return std::nullopt;
    return it->second.p.id;
}

std::optional<PodIdentity> PodDirectory::by_link(uint32_t ifindex, int32_t nsid,
                                                 Clock::time_point now) const {
    std::lock_guard lk(mu_);
    if (nsid >= 0)
        if (auto n = nsid_to_ino_.find(nsid); n != nsid_to_ino_.end())
            if (auto it = by_ino_.find(n->second); it != by_ino_.end()) {
                by_link_[ifindex] = {it->second.p.id, now};
                return it->second.p.id;
            }
    if (auto it = by_link_.find(ifindex); it != by_link_.end())
        return it->second.id;
    return std::nullopt;
}

void PodDirectory::publish(const std::vector<PodNetns>& live, Clock::time_point now) {
    std::lock_guard lk(mu_);
    for (auto& [ino, e] : by_ino_)
        e.live = false;
    for (const auto& p : live) {
        if (p.netns_ino == 0)
            continue;
        Entry& e = by_ino_[p.netns_ino];
        e.p = p;
        e.last_seen = now;
        e.live = true;
    }
    for (auto it = by_ino_.begin(); it != by_ino_.end();)
        if (!it->second.live && now - it->second.last_seen > retain_)
            it = by_ino_.erase(it);
        else
            ++it;
    std::erase_if(by_link_, [&](const auto& kv) { return now - kv.second.touched > retain_; });
    // nsids: live entries first, so a reused id names the namespace that holds it now.
    nsid_to_ino_.clear();
    for (int pass = 0; pass < 2; ++pass)
        for (const auto& [ino, e] : by_ino_)
            if (e.p.nsid >= 0 && e.live == (pass == 0))
                nsid_to_ino_.emplace(e.p.nsid, ino);
}

std::optional<PodCgroup> PodDirectory::by_cgroup(uint64_t cgroup_id) const {
    std::lock_guard lk(mu_);
    auto it = by_cgroup_.find(cgroup_id);
    if (it == by_cgroup_.end())
        return std::nullopt;
    return it->second.c;
}

std::optional<PodCgroup> PodDirectory::by_cgroup_or_wake(uint64_t cgroup_id) const {
    {
        std::lock_guard lk(mu_);
        if (auto it = by_cgroup_.find(cgroup_id); it != by_cgroup_.end())
            return it->second.c;
        if (!cgroups_available_ || cgroup_id <= 1) // no hierarchy, or its root
            return std::nullopt;
        if (unknown_cgroups_.size() >= 4096)
            unknown_cgroups_.clear();
        if (!unknown_cgroups_.insert(cgroup_id).second)
            return std::nullopt;
    }
    wake();
    return std::nullopt;
}

void PodDirectory::wake_for_nsid(int32_t nsid, Clock::time_point now) const {
    if (nsid < 0)
        return;
    {
        std::lock_guard lk(mu_);
        if (nsid_to_ino_.count(nsid))
            return; // a pod's already
        if (woken_for_nsid_.size() >= 4096)
            woken_for_nsid_.clear();
        auto [it, fresh] = woken_for_nsid_.try_emplace(nsid, now);
        if (!fresh && now - it->second < std::chrono::seconds(30))
            return;
        it->second = now;
    }
    wake();
}

void PodDirectory::publish_cgroups(const std::vector<PodCgroup>& live, Clock::time_point now) {
    std::lock_guard lk(mu_);
    for (auto& [id, e] : by_cgroup_)
        e.live = false;
    for (const auto& c : live) {
        if (c.cgroup_id == 0)
            continue;
        CgroupEntry& e = by_cgroup_[c.cgroup_id];
        e.c = c;
        e.last_seen = now;
        e.live = true;
    }
    std::erase_if(by_cgroup_, [&](const auto& kv) {
        return !kv.second.live && now - kv.second.last_seen > retain_;
    });
}

size_t PodDirectory::cgroup_count() const {
    std::lock_guard lk(mu_);
    return by_cgroup_.size();
}

size_t PodDirectory::cgroup_live_count() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (const auto& [id, e] : by_cgroup_)
        n += e.live;
    return n;
}

void PodDirectory::set_cgroups_available(bool yes) {
    std::lock_guard lk(mu_);
    cgroups_available_ = yes;
}

bool PodDirectory::cgroups_available() const {
    std::lock_guard lk(mu_);
    return cgroups_available_;
}

size_t PodDirectory::live_count() const {
    std::lock_guard lk(mu_);
    size_t n = 0;
    for (const auto& [ino, e] : by_ino_)
        n += e.live;
    return n;
}

size_t PodDirectory::size() const {
    std::lock_guard lk(mu_);
    return by_ino_.size();
}

void PodDirectory::set_wake(std::function<void()> wake) {
    std::lock_guard lk(mu_);
    wake_ = std::move(wake);
}

void PodDirectory::set_retain(Clock::duration retain) {
    std::lock_guard lk(mu_);
    retain_ = retain;
}

void PodDirectory::wake() const {
    std::function<void()> w;
    {
        std::lock_guard lk(mu_);
        w = wake_;
    }
    if (w)
        w();
}

} // namespace tif

#include "net/iface_lifecycle.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "bpf/bpf_maps.h"
#include "log/log.h"

namespace tif {

IfaceKeyedMap::IfaceKeyedMap(std::string name, int fd, uint32_t key_size, uint32_t value_u64s,
                             uint32_t max_entries, uint32_t host_netns_ino, IfNameLookup names,
                             int carry_fd)
    : name_(std::move(name)), fd_(fd), key_size_(key_size), value_u64s_(value_u64s),
      max_entries_(max_entries), host_netns_ino_(host_netns_ino), names_(std::move(names)) {
    retired_.assign(value_u64s_, 0);
    if (carry_fd < 0)
        return;
    store_.emplace(carry_fd, key_size_, value_u64s_);
    if (auto st = store_->load(carry_, retired_); !st)
        Log::msg(Level::warn, "could not read the carried counts a predecessor left",
                 Fields{{"map", name_}, {"error", st.error().message()}});
}

std::string IfaceKeyedMap::label_of(const std::string& key) const {
    tif_iface_ref ref{};
    std::memcpy(&ref, key.data(), sizeof(ref));
    return iface_label(ref, host_netns_ino_, names_);
}

Result<std::vector<uint64_t>> IfaceKeyedMap::read_value(const std::string& key) const {
    const size_t ncpu = size_t(possible_cpus());
    std::vector<uint64_t> buf(ncpu * value_u64s_);
    if (bpf_map_lookup_elem(fd_, key.data(), buf.data()) != 0)
        return os_error(errno, "bpf_map_lookup_elem on " + name_);
    std::vector<uint64_t> sum(value_u64s_, 0);
    for (size_t c = 0; c < ncpu; ++c)
        for (size_t f = 0; f < value_u64s_; ++f)
            sum[f] += buf[c * value_u64s_ + f];
    return sum;
}

std::vector<IfaceKeyedMap::Carried> IfaceKeyedMap::carried() const {
    std::lock_guard lk(mu_);
    std::vector<Carried> out;
    out.reserve(carry_.size());
    for (const auto& [k, v] : carry_)
        out.push_back({k, v});
    return out;
}

std::vector<uint64_t> IfaceKeyedMap::retired() const {
    std::lock_guard lk(mu_);
    auto r = retired_;
    r.resize(value_u64s_, 0);
    return r;
}

size_t IfaceKeyedMap::entries() const {
    std::lock_guard lk(mu_);
    return entries_;
}

uint64_t IfaceKeyedMap::deleted(bool capacity) const {
    std::lock_guard lk(mu_);
    return capacity ? deleted_capacity_ : deleted_grace_;
}

IfaceKeyedMap::SweepStats IfaceKeyedMap::sweep(const IfaceLiveness& live, int64_t now_ns,
                                               int64_t grace_ns, std::set<std::string>& labels) {
    SweepStats st;
    // Every key first: deleting while walking would restart the walk.
    std::vector<std::string> keys;
    std::string cur(key_size_, '\0'), next(key_size_, '\0');
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd_, prev, next.data()) == 0) {
        keys.push_back(next);
        cur = next;
        prev = cur.data();
    }
    std::set<std::string> present(keys.begin(), keys.end());
    for (auto it = dead_since_.begin(); it != dead_since_.end();)
        it = present.count(it->first) ? std::next(it) : dead_since_.erase(it);
    std::vector<std::pair<int64_t, std::string>> dead; // (since, key)
    for (const auto& k : keys) {
        tif_iface_ref ref{};
        std::memcpy(&ref, k.data(), sizeof(ref));
        if (live.alive(ref)) {
            dead_since_.erase(k);
            continue;
        }
        auto v = read_value(k);
        if (!v)
            continue; // deleted meanwhile
        auto [it, fresh] = dead_since_.try_emplace(k, Dead{now_ns, *v});
        if (!fresh && it->second.last != *v) // still counting: in use, the grace starts over
            it->second = Dead{now_ns, std::move(*v)};
        dead.emplace_back(it->second.since, k);
    }
    std::sort(dead.begin(), dead.end()); // oldest-dead first
    std::set<std::string> doomed;
    size_t remaining = keys.size();
    const size_t high = size_t(max_entries_) * 3 / 4, low = size_t(max_entries_) / 2;
    const bool full = remaining >= high;
    for (const auto& [since, k] : dead) {
        if (now_ns - since >= grace_ns) {
            doomed.insert(k);
            ++st.deleted_grace;
            --remaining;
        } else if (full && remaining > low) {
            doomed.insert(k);
            ++st.deleted_capacity;
            --remaining;
        }
    }
    // Survivors by (label, suffix): where a doomed key's counts are carried.
    std::map<std::pair<std::string, std::string>, std::string> survivor;
    for (const auto& k : keys)
        if (!doomed.count(k)) {
            std::string label = label_of(k);
            labels.insert(label);
            tif_iface_ref ref{};
            std::memcpy(&ref, k.data(), sizeof(ref));
            auto& s = survivor[{label, k.substr(sizeof(tif_iface_ref))}];
            // Prefer a live key: it will outlast the dead ones.
            if (s.empty() || live.alive(ref))
                s = k;
        }
    std::map<std::string, std::vector<uint64_t>> carry_add;
    std::set<std::string> carry_drop;
    std::vector<uint64_t> retire(value_u64s_, 0);
    auto retire_add = [&](const std::vector<uint64_t>& v) {
        for (size_t f = 0; f < value_u64s_ && f < v.size(); ++f)
            retire[f] += v[f];
    };
    auto hold = hold_sweep(); // a reader sees a key either in the map or in the carry
    for (const auto& k : doomed) {
        auto v = read_value(k);
        if (bpf_map_delete_elem(fd_, k.data()) != 0 && errno != ENOENT) {
            Log::msg(Level::warn, "could not delete a vanished interface's key",
                     Fields{{"map", name_}, {"error", std::string(strerror(errno))}});
            continue;
        }
        dead_since_.erase(k);
        carry_drop.insert(k);
        auto s = survivor.find({label_of(k), k.substr(sizeof(tif_iface_ref))});
        if (s == survivor.end() || !v) { // the series ends with its last key
            if (v)
                retire_add(*v);
            continue;
        }
        auto& add = carry_add[s->second];
        add.resize(value_u64s_, 0);
        for (size_t f = 0; f < value_u64s_; ++f)
            add[f] += (*v)[f];
    }
    std::lock_guard lk(mu_);
    for (const auto& k : carry_drop) {
        auto it = carry_.find(k);
        if (it == carry_.end())
            continue;
        // A doomed key that carried others' counts hands them on with its own.
        if (auto s = survivor.find({label_of(k), k.substr(sizeof(tif_iface_ref))});
            s != survivor.end()) {
            auto& add = carry_add[s->second];
            add.resize(value_u64s_, 0);
            for (size_t f = 0; f < value_u64s_; ++f)
                add[f] += it->second[f];
        } else {
            retire_add(it->second);
        }
        carry_.erase(it);
    }
    for (auto& [k, add] : carry_add) {
        auto& c = carry_[k];
        c.resize(value_u64s_, 0);
        for (size_t f = 0; f < value_u64s_; ++f)
            c[f] += add[f];
    }
    // Carries on keys that left the map some other way end with them.
    for (auto it = carry_.begin(); it != carry_.end();) {
        if (present.count(it->first) && !doomed.count(it->first)) {
            ++it;
            continue;
        }
        retire_add(it->second);
        it = carry_.erase(it);
    }
    retired_.resize(value_u64s_, 0);
    for (size_t f = 0; f < value_u64s_; ++f)
        retired_[f] += retire[f];
    if (store_)
        if (auto s = store_->save(carry_, retired_); !s)
            Log::msg(Level::warn, "could not keep the carried counts for a successor",
                     Fields{{"map", name_}, {"error", s.error().message()}});
    entries_ = remaining;
    deleted_grace_ += st.deleted_grace;
    deleted_capacity_ += st.deleted_capacity;
    st.entries = remaining;
    return st;
}

IfaceLifecycle::IfaceLifecycle(uint32_t host_netns_ino, uint64_t grace_ns)
    : live_(host_netns_ino), grace_ns_(grace_ns) {}

void IfaceLifecycle::add_map(std::shared_ptr<IfaceKeyedMap> m) {
    maps_.push_back(std::move(m));
}

void IfaceLifecycle::on_labels_gone(std::function<void(const std::vector<std::string>&)> fn) {
    gone_fns_.push_back(std::move(fn));
}

uint64_t IfaceLifecycle::interval_ns(uint64_t grace_ns) {
    const uint64_t s = 1'000'000'000;
    return std::max(s, std::min(grace_ns / 4, 30 * s));
}

void IfaceLifecycle::sweep_once(int64_t now_ns) {
    live_.refresh();
    std::set<std::string> labels;
    for (auto& m : maps_) {
        auto st = m->sweep(live_, now_ns, int64_t(grace_ns_), labels);
        if (st.deleted_grace || st.deleted_capacity)
            Log::msg(Level::debug, "vanished interfaces' keys deleted",
                     Fields{{"map", m->name()},
                            {"after_grace", st.deleted_grace},
                            {"early_at_capacity", st.deleted_capacity},
                            {"entries", uint64_t(st.entries)}});
    }
    std::vector<std::string> gone;
    std::set_difference(labels_.begin(), labels_.end(), labels.begin(), labels.end(),
                        std::back_inserter(gone));
    labels_ = std::move(labels);
    if (!gone.empty())
        for (auto& fn : gone_fns_)
            fn(gone);
}

void IfaceLifecycle::start(boost::asio::io_context& io) {
    timer_ = std::make_unique<boost::asio::steady_timer>(io);
    arm();
}

void IfaceLifecycle::stop() {
    if (timer_)
        timer_->cancel();
}

void IfaceLifecycle::arm() {
    const auto now = std::chrono::steady_clock::now();
    sweep_once(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
    // A map from half full on (where early eviction is near) is swept every second: new keys
    // between two sweeps must fit in the headroom left above the 3/4 mark.
    uint64_t next = interval_ns(grace_ns_);
    for (const auto& m : maps_)
        if (m->entries() >= m->max_entries() / 2)
            next = std::min<uint64_t>(next, 1'000'000'000);
    timer_->expires_after(std::chrono::nanoseconds(next));
    timer_->async_wait([this](const boost::system::error_code& ec) {
        if (!ec)
            arm();
    });
}

namespace {
class MapCollector : public Collector {
  public:
    explicit MapCollector(std::vector<std::shared_ptr<IfaceKeyedMap>> maps)
        : maps_(std::move(maps)) {}
    std::string_view name() const override { return "iface_lifecycle"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto entries = make_family("traceiface_bpf_map_entries",
                                   "Keys in a per-interface BPF map at the last lifecycle sweep.",
                                   prometheus::MetricType::Gauge);
        auto max = make_family("traceiface_bpf_map_max_entries",
                               "Capacity of a per-interface BPF map (--tcp.max-iface-keys).",
                               prometheus::MetricType::Gauge);
        auto del = make_family(
            "traceiface_bpf_map_keys_deleted_total",
            "Keys of vanished interfaces deleted from a per-interface BPF map: after "
            "--iface.stale-grace (reason=grace) or early because the map neared capacity "
            "(reason=capacity).",
            prometheus::MetricType::Counter);
        for (const auto& m : maps_) {
            add_sample(entries, {{"map", m->name()}}, double(m->entries()));
            add_sample(max, {{"map", m->name()}}, double(m->max_entries()));
            add_sample(del, {{"map", m->name()}, {"reason", "grace"}}, double(m->deleted(false)));
            add_sample(del, {{"map", m->name()}, {"reason", "capacity"}}, double(m->deleted(true)));
        }
        out.push_back(std::move(entries));
        out.push_back(std::move(max));
        out.push_back(std::move(del));
        return Ok{};
    }

  private:
    std::vector<std::shared_ptr<IfaceKeyedMap>> maps_;
};
} // namespace

std::unique_ptr<Collector> IfaceLifecycle::collector() const {
    return std::make_unique<MapCollector>(maps_);
}

} // namespace tif

#include "log/log_limiter.h"

#include <algorithm>
#include <chrono>
#include <ctime>

namespace tif {

namespace {
// The coarse monotonic clock (a tick, a few ms): read for every event, and in a VM the precise
// one can cost more than the rest of the event's handling. Buckets refill by rate x elapsed
// time all the same, only in ticks.
int64_t coarse_now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

class SuppressedCollector : public Collector {
  public:
    SuppressedCollector(std::shared_ptr<const LogLimiter> l, std::vector<HeldSource> sources)
        : l_(std::move(l)), sources_(std::move(sources)) {}
    std::string_view name() const override { return "log_limiter"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto f = make_family("traceiface_log_lines_suppressed_total",
                             "Event log lines held back by --log.event-rate (in the exporter, "
                             "or as events kept in the kernel).",
                             prometheus::MetricType::Counter);
        LogLimiter::Counts all = l_->suppressed();
        Status result = Ok{};
        for (const auto& src : sources_) {
            auto held = src();
            if (!held) {
                result = held.error(); // the other counts are still exported
                continue;
            }
            for (const auto& [k, n] : *held)
                all[k] += n;
        }
        for (const auto& [k, n] : all)
            add_sample(f, {{"iface", k.first}, {"event", k.second}}, double(n));
        out.push_back(std::move(f));
        return result;
    }

  private:
    std::shared_ptr<const LogLimiter> l_;
    std::vector<HeldSource> sources_;
};
} // namespace

LogLimiter::LogLimiter(uint32_t rate, uint32_t burst, Clock clock)
    : clock_(clock ? std::move(clock) : Clock(coarse_now_ns)) {
    set_rate(rate, burst);
}

void LogLimiter::set_rate(uint32_t rate, uint32_t burst) {
    std::lock_guard lk(mu_);
    rate_ = rate;
    burst_ = burst ? burst : std::max<uint32_t>(rate, 1);
    buckets_.clear();
}

double LogLimiter::refill(Bucket& b, int64_t now) const {
    if (now > b.last_ns) {
        b.tokens = std::min(burst_, b.tokens + double(now - b.last_ns) * rate_ / 1e9);
        b.last_ns = now;
    }
    return b.tokens;
}

void LogLimiter::evict_idle(int64_t now) {
    for (auto it = buckets_.begin(); it != buckets_.end();)
        it = refill(it->second, now) >= burst_ ? buckets_.erase(it) : std::next(it);
}

bool LogLimiter::allow(std::string_view iface, std::string_view event) {
    std::lock_guard lk(mu_);
    if (rate_ == 0)
        return true;
    const int64_t now = clock_();
    auto it = buckets_.find(std::pair<std::string_view, std::string_view>{iface, event});
    if (it == buckets_.end()) {
        if (buckets_.size() >= MAX_BUCKETS)
            evict_idle(now);
        if (buckets_.size() >= MAX_BUCKETS) // all busy: new keys go unlimited, memory stays bounded
            return true;
        it = buckets_.emplace(Key{iface, event}, Bucket{burst_, now}).first;
    }
    if (refill(it->second, now) >= 1) {
        it->second.tokens -= 1;
        return true;
    }
    uint64_t*& n = it->second.suppressed; // a storm is all here: one map lookup per event
    if (!n)
        n = &suppressed_.try_emplace(Key{iface, event}, 0).first->second;
    ++*n;
    return false;
}

std::map<LogLimiter::Key, uint64_t> LogLimiter::suppressed() const {
    std::lock_guard lk(mu_);
    return {suppressed_.begin(), suppressed_.end()};
}

uint64_t LogLimiter::suppressed_total() const {
    std::lock_guard lk(mu_);
    uint64_t n = forgotten_;
    for (const auto& [k, v] : suppressed_)
        n += v;
    return n;
}

void LogLimiter::forget_iface(std::string_view iface) {
    std::lock_guard lk(mu_);
    for (auto it = buckets_.begin(); it != buckets_.end();)
        it = it->first.first == iface ? buckets_.erase(it) : std::next(it);
    for (auto it = suppressed_.begin(); it != suppressed_.end();) {
        if (it->first.first == iface) {
            forgotten_ += it->second;
            it = suppressed_.erase(it);
        } else
            ++it;
    }
}

size_t LogLimiter::buckets() const {
    std::lock_guard lk(mu_);
    return buckets_.size();
}

std::unique_ptr<Collector> make_log_limiter_collector(std::shared_ptr<const LogLimiter> l,
                                                      std::vector<HeldSource> sources) {
    return std::make_unique<SuppressedCollector>(std::move(l), std::move(sources));
}

} // namespace tif

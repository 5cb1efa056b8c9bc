#include "log_limiter.h"

#include <algorithm>
#include <chrono>

namespace tif {

namespace {
int64_t steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

class SuppressedCollector : public Collector {
  public:
    explicit SuppressedCollector(std::shared_ptr<const LogLimiter> l) : l_(std::move(l)) {}
    std::string_view name() const override { return "log_limiter"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto f = make_family("traceiface_log_lines_suppressed_total",
                             "Event log lines held back by --log.event-rate.",
                             prometheus::MetricType::Counter);
        for (const auto& [k, n] : l_->suppressed())
            add_sample(f, {{"iface", k.first}, {"event", k.second}}, double(n));
        out.push_back(std::move(f));
        return Ok{};
    }

  private:
    std::shared_ptr<const LogLimiter> l_;
};
} // namespace

LogLimiter::LogLimiter(uint32_t rate, uint32_t burst, Clock clock)
    : clock_(clock ? std::move(clock) : Clock(steady_now_ns)) {
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
    Key key{std::string(iface), std::string(event)};
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= MAX_BUCKETS)
            evict_idle(now);
        if (buckets_.size() >= MAX_BUCKETS) // all busy: new keys go unlimited, memory stays bounded
            return true;
        it = buckets_.emplace(key, Bucket{burst_, now}).first;
    }
    if (refill(it->second, now) >= 1) {
        it->second.tokens -= 1;
        return true;
    }
    ++suppressed_[std::move(key)];
    return false;
}

std::map<LogLimiter::Key, uint64_t> LogLimiter::suppressed() const {
    std::lock_guard lk(mu_);
    return suppressed_;
}

uint64_t LogLimiter::suppressed_total() const {
    std::lock_guard lk(mu_);
    uint64_t n = 0;
    for (const auto& [k, v] : suppressed_)
        n += v;
    return n;
}

size_t LogLimiter::buckets() const {
    std::lock_guard lk(mu_);
    return buckets_.size();
}

std::unique_ptr<Collector> make_log_limiter_collector(std::shared_ptr<const LogLimiter> l) {
    return std::make_unique<SuppressedCollector>(std::move(l));
}

} // namespace tif

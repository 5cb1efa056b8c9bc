// A rate limit on event log lines: one token bucket per (iface, event), so a retransmit storm
// on one interface cannot drown the lines of the others (or Loki). What is held back is
// counted per (iface, event) and exported as traceiface_log_lines_suppressed_total, so the
// lines plus the suppressed count always add up to the events read. A probe may also hold
// events back in the kernel when the limit would drop their lines anyway (the retransmit
// probe's pre-limiter): those are counted there and added in as held sources.
//
// Usable by any event source: `if (limiter.allow(iface, "tcp_retransmit")) Log::event(...)`.
// Thread-safe (events on the io_context, scrapes on the HTTP threads, changes on reload).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "metrics_registry.h"

namespace tif {

class LogLimiter {
  public:
    using Clock = std::function<int64_t()>; // monotonic nanoseconds

    // rate: lines/s per (iface, event), 0 = unlimited; burst: bucket size, 0 = max(rate, 1).
    explicit LogLimiter(uint32_t rate, uint32_t burst = 0, Clock clock = {});

    // true: write the line; false: it was counted as suppressed.
    bool allow(std::string_view iface, std::string_view event);

    // Live change (reload). Buckets start over full.
    void set_rate(uint32_t rate, uint32_t burst);

    using Key = std::pair<std::string, std::string>; // (iface, event)
    using Counts = std::map<Key, uint64_t>;
    Counts suppressed() const; // held back by allow()
    // The interface's series is gone (interface lifecycle): its buckets and counts go too.
    // suppressed_total() keeps what was counted, for the exit line's account.
    void forget_iface(std::string_view iface);

    // Orders Keys and (iface, event) string_view pairs alike: allow() runs for every event of
    // a storm and finds its bucket without building the two strings.
    struct KeyLess {
        using is_transparent = void;
        template <class A, class B> bool operator()(const A& a, const B& b) const {
            return std::pair<std::string_view, std::string_view>(a.first, a.second) <
                   std::pair<std::string_view, std::string_view>(b.first, b.second);
        }
    };
    uint64_t suppressed_total() const;
    size_t buckets() const; // for tests: the memory bound

    // Buckets kept at most; beyond it, full (idle) buckets are forgotten, which changes
    // nothing since a new bucket starts full too. If none is idle, new keys are not limited.
    static constexpr size_t MAX_BUCKETS = 4096;

  private:
    struct Bucket {
        double tokens = 0;
        int64_t last_ns = 0;
        uint64_t* suppressed = nullptr; // its count in suppressed_ (never erased), once it has one
    };
    void evict_idle(int64_t now);
    double refill(Bucket& b, int64_t now) const;

    mutable std::mutex mu_;
    Clock clock_;
    double rate_ = 0;  // tokens per second
    double burst_ = 0; // bucket size
    std::map<Key, Bucket, KeyLess> buckets_;
    std::map<Key, uint64_t, KeyLess> suppressed_;
    uint64_t forgotten_ = 0; // counts of forgotten interfaces
};

// Lines held back elsewhere: events a probe kept in the kernel over the same limit.
using HeldSource = std::function<Result<LogLimiter::Counts>()>;

// traceiface_log_lines_suppressed_total{iface,event}: the limiter's and the sources' counts.
std::unique_ptr<Collector> make_log_limiter_collector(std::shared_ptr<const LogLimiter> l,
                                                      std::vector<HeldSource> sources = {});

} // namespace tif

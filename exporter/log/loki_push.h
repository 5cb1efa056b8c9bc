// --loki.url: every log line (events and daemon messages) also pushed to Loki's HTTP push API,
// POST /loki/api/v1/push with the JSON body
//
//   {"streams":[{"stream":{"job":"traceiface","iface":"eth0"},
//                "values":[["<unix ns>","<the JSON line>",{"trace_id":"...","span_id":"..."}]]}]}
//
// `iface` is the only stream label besides `job` (bounded cardinality); trace ids go into
// structured metadata (Loki 2.9+), never into labels. A background thread sends batches;
// memory is bounded (the oldest lines go first, counted); failed pushes are retried with
// exponential backoff, except 4xx other than 429 (the batch is dropped and counted).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "log/log.h"
#include "metrics_registry.h"

namespace tif {

struct LokiEntry {
    std::string iface; // "" = the daemon's own lines
    int64_t ts_ns = 0;
    std::string line;
    std::map<std::string, std::string> metadata;
};

// A log line -> its Loki entry (ts parsed back from the line's RFC 3339 "ts").
LokiEntry loki_entry(const Fields& line);

// The push body, one stream per iface, entries in order.
std::string loki_push_body(const std::vector<LokiEntry>& entries, const std::string& job);

struct LokiTarget {
    std::string scheme_host_port; // "http://127.0.0.1:3100"
    std::string path;             // "/loki/api/v1/push"
};
Result<LokiTarget> parse_loki_url(std::string_view url);

class LokiPusher {
  public:
    struct Options {
        std::string url;
        std::string job = "traceiface";
        size_t max_buffered = 10000; // lines held at most; beyond, the oldest are dropped
        size_t batch_lines = 1000;
        std::chrono::milliseconds flush_interval{1000};
        std::chrono::milliseconds min_backoff{250};
        std::chrono::milliseconds max_backoff{30000};
    };
    static Result<std::unique_ptr<LokiPusher>> start(Options o);
    ~LokiPusher();

    void push(LokiEntry e); // never blocks on the network
    void stop();            // one last send of what is buffered, then the thread ends

    struct Counters {
        uint64_t sent = 0, dropped = 0, failures = 0;
    };
    Counters counters() const;
    std::unique_ptr<Collector> collector() const;

  private:
    explicit LokiPusher(Options o, LokiTarget t);
    void run();
    bool send(const std::vector<LokiEntry>& batch, bool& retry);

    Options opt_;
    LokiTarget target_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<LokiEntry> queue_;
    Counters counters_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace tif

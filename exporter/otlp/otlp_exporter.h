// --otlp.endpoint: every metric of /metrics also pushed to an OpenTelemetry collector, as
// OTLP/HTTP with a protobuf body (POST <endpoint>/v1/metrics), every --otlp.interval.
//
// A thread of its own collects the registry (as a scrape does), maps it (otlp_mapping.h) and
// posts it with bounded timeouts: a slow or absent collector never holds up the io_context or
// /metrics. Temporality is cumulative, so a failed push is not retried: it is counted and
// logged (rate-limited), and the next one carries the whole state again; nothing is lost but
// resolution. One last push at stop, with short timeouts, unless the previous one failed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/result.h"
#include "metrics_registry.h"
#include "otlp/otlp_http.h"
#include "otlp/otlp_mapping.h"
#include "otlp/otlp_options.h"

namespace tif {

class OtlpExporter {
  public:
    struct Options {
        OtlpOptions otlp;
        OtlpResourceInfo resource;
        uint64_t start_ns = 0; // the start time of every cumulative point (Unix ns)
    };
    // The thread inherits the caller's capabilities: collecting reads BPF maps, which needs
    // what the HTTP threads keep (daemon.cpp), so start it after the capabilities are dropped.
    static Result<std::unique_ptr<OtlpExporter>> start(MetricsRegistry& registry, Options o);
    ~OtlpExporter();

    // Reload: a new endpoint, interval or headers from the next push on; "" pauses.
    Status set(const OtlpOptions& o);
    void stop(); // one last push (short timeouts), then the thread ends

    struct Counters {
        uint64_t ok = 0, failed = 0, points = 0, rejected = 0;
        double last_success_s = 0, last_duration_s = 0;
    };
    Counters counters() const;
    std::unique_ptr<Collector> collector() const;

  private:
    OtlpExporter(MetricsRegistry& registry, Options o);
    void run();
    // One collect + POST; updates the counters. Called without mu_ held.
    void push(const OtlpOptions& cfg, std::chrono::seconds timeout);
    void note_failure(const std::string& endpoint, const std::string& why);

    MetricsRegistry& registry_;
    const OtlpResourceInfo resource_;
    const uint64_t start_ns_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    OtlpOptions cfg_;
    bool changed_ = false, stopping_ = false;
    Counters counters_;
    OtlpFailureLogGate failures_;
    std::thread thread_;
};

// service.name=traceiface, service.version, host.name (gethostname).
OtlpResourceInfo otlp_resource_of_this_host();

} // namespace tif

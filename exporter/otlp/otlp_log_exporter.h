// --otlp.logs: every event line (Log::event: the tcp_retransmit lines) also sent to an
// OpenTelemetry collector as an OTLP log record, POST <--otlp.endpoint>/v1/logs with a
// protobuf body (otlp_log_mapping.h), with the same headers as the metrics push.
//
// The event reader hands each line to push(), which only copies it into a bounded queue and
// never waits on the network; a thread of its own sends the queue in batches, every
// --otlp.interval and whenever a batch is full. Nothing is retried: records are dropped, and
// counted by reason, when the queue is full (queue_full), when a request fails (export_failed),
// when the receiver refuses them in an accepted request (rejected), and at exit after a failed
// request (shutdown). So, for the lines written while the export is on:
//
//   lines = exported + dropped (all reasons) + queued
//
// Lines the log rate limiter holds back are neither written nor exported.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/result.h"
#include "log/log.h"
#include "metrics_registry.h"
#include "otlp/otlp_http.h"
#include "otlp/otlp_log_mapping.h"
#include "otlp/otlp_options.h"

namespace tif {

class OtlpLogExporter {
  public:
    struct Options {
        OtlpOptions otlp;
        OtlpResourceInfo resource;
        size_t max_queued = 4096;   // records held at most; beyond, new ones are dropped
        size_t batch_records = 512; // records per request at most; a full batch goes at once
    };
    // Whether `o` asks for the log export (--otlp.logs with an endpoint).
    static bool wanted(const OtlpOptions& o) { return o.logs && !o.endpoint.empty(); }

    static Result<std::unique_ptr<OtlpLogExporter>> start(Options o);
    ~OtlpLogExporter();

    // The event tee (Log::set_event_tee): queues a copy of the line, or counts it dropped.
    void push(const Fields& line);
    // Reload: a new endpoint, interval or headers from the next request on; turned off (no
    // --otlp.logs, or no endpoint), new lines are not queued and what was queued is still sent.
    Status set(const OtlpOptions& o);
    void stop(); // one last send of the queue (short timeouts), then the thread ends

    struct Counters {
        uint64_t exported = 0;
        uint64_t requests_ok = 0, requests_failed = 0;
        uint64_t queue_full = 0, export_failed = 0, rejected = 0, shutdown = 0; // dropped
        uint64_t queued = 0;
    };
    Counters counters() const;
    std::unique_ptr<Collector> collector() const;

  private:
    explicit OtlpLogExporter(Options o);
    void run();
    // Takes up to one batch off the queue; mu_ held.
    std::vector<OtlpLogLine> take_batch();
    // One request; updates the counters. Called without mu_ held.
    void send(const OtlpOptions& cfg, const std::vector<OtlpLogLine>& batch,
              std::chrono::seconds timeout);

    const OtlpResourceInfo resource_;
    const size_t max_queued_, batch_records_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    OtlpOptions cfg_;
    std::optional<OtlpOptions> drain_cfg_; // turned off by a reload: the queue still goes here
    bool changed_ = false, stopping_ = false;
    std::deque<OtlpLogLine> queue_;
    Counters counters_;
    OtlpFailureLogGate failures_;
    std::thread thread_;
};

} // namespace tif

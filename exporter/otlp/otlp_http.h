// One OTLP/HTTP request: POST a protobuf body to the endpoint's path for a signal
// (/v1/metrics, /v1/logs) with the configured headers and bounded timeouts, and what came of
// it. The metrics push and the log export both send through here, each from its own thread;
// a request blocks only the thread that makes it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "otlp/otlp_options.h"

namespace tif {

struct OtlpPostResult {
    bool ok = false;    // a 2xx answer
    std::string why;    // when not ok: no answer (the client's error) or "HTTP 503: ..."
    std::string answer; // the 2xx body (an Export*ServiceResponse, maybe empty)
    std::chrono::duration<double> took{};
};

// `cfg.endpoint` must be non-empty and valid (checked when it was set). The connect timeout is
// min(timeout, 5 s); sending and receiving get `timeout` each.
OtlpPostResult otlp_post(const OtlpOptions& cfg, std::string_view signal_path,
                         const std::string& body, std::chrono::seconds timeout);

// A warning at the first failure, then at most one per `every` while failures go on; the
// owner's lock guards it.
struct OtlpFailureLogGate {
    std::chrono::steady_clock::duration every = std::chrono::minutes(1);
    uint64_t in_a_row = 0;
    std::chrono::steady_clock::time_point last_log{};
    // Counts the failure; true when this one is to be logged.
    bool failed();
    // Counts a success; true when it ends a run of failures (worth an info line).
    bool succeeded();
};

} // namespace tif

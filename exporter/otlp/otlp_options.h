// Flags of the OTLP metrics push and log export (--otlp.*), kept apart from options.cpp like the
// span and k8s flags; parse_options() merges them in with add_otlp_flags().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/span_options.h" // FlagMap
#include "core/result.h"

namespace tif {

struct OtlpOptions {
    std::string endpoint;                                     // base URL, "" = off
    uint64_t interval_ns = 30'000'000'000;                    // one push per interval
    std::vector<std::pair<std::string, std::string>> headers; // e.g. Authorization
    bool logs = false; // --otlp.logs: event lines too, as log records (otlp_log_exporter.h)
};

// The OTLP/HTTP paths of the two signals traceiface sends.
inline constexpr std::string_view OTLP_METRICS_PATH = "/v1/metrics";
inline constexpr std::string_view OTLP_LOGS_PATH = "/v1/logs";

// Where the requests go: OTLP/HTTP's base URL gets the signal's path ("/v1/metrics",
// "/v1/logs") appended, as the SDKs do with OTEL_EXPORTER_OTLP_ENDPOINT. A URL that already
// ends in one signal's path is used as it is for that signal, and with the other's path in
// its place for the other.
struct OtlpTarget {
    std::string scheme_host_port; // "http://collector:4318"
    std::string path;             // "/v1/metrics"
};
Result<OtlpTarget> parse_otlp_endpoint(std::string_view url,
                                       std::string_view signal_path = OTLP_METRICS_PATH);

// --otlp.logs may stand alone, like --web.enable-lifecycle (operator_flags.h).
bool is_otlp_bool_flag(std::string_view name);

void add_otlp_flags(FlagMap& flags, OtlpOptions& o);
std::string otlp_usage();

} // namespace tif

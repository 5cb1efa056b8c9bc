// Flags of the OTLP metrics push (--otlp.*), kept apart from options.cpp like the span and k8s
// flags; parse_options() merges them in with add_otlp_flags().
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
};

// Where the requests go: OTLP/HTTP's base URL gets "/v1/metrics" appended (as the SDKs do
// with OTEL_EXPORTER_OTLP_ENDPOINT), unless the URL already ends in it.
struct OtlpTarget {
    std::string scheme_host_port; // "http://collector:4318"
    std::string path;             // "/v1/metrics"
};
Result<OtlpTarget> parse_otlp_endpoint(std::string_view url);

void add_otlp_flags(FlagMap& flags, OtlpOptions& o);
std::string otlp_usage();

} // namespace tif

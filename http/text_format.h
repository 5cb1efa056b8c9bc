// Prometheus text exposition format 0.0.4 of prometheus::MetricFamily, written straight into
// one string. Same bytes as prometheus-cpp's TextSerializer for every family our collectors
// produce, at a fraction of the cost (no ostream, no per-line temporaries; each series' label
// block and each family's le values are formatted once, not once per line). Where the two
// differ on purpose, see append_text_number (exact numbers, "NaN") and HELP escaping below.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace tif {

inline constexpr const char* TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

// HELP escapes \ and newline as the format requires (prometheus-cpp writes HELP unescaped, so
// a newline in it would end the line early).
std::string serialize_text(const std::vector<prometheus::MetricFamily>& families);
void serialize_text(std::string& out, const std::vector<prometheus::MetricFamily>& families);

} // namespace tif

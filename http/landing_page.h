// The page at "/": what an operator wants without Grafana. Built from the same metric families
// /metrics serves (no second source of truth): per interface, packets, retransmitted segments,
// RTT p50/p99 estimated from the histogram, oversize frames, and the RTT histogram drawn as an
// inline SVG. No JavaScript, no external assets.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <string_view>
#include <vector>

namespace tif {

// Like PromQL's histogram_quantile(): linear interpolation inside the bucket holding the rank;
// NaN for an empty histogram; the highest finite bound when the rank falls in +Inf.
double histogram_quantile(double q, const prometheus::ClientMetric::Histogram& h);

std::string html_escape(std::string_view s);

// "1.5 ms", "320 µs", "2.1 s"; "–" for NaN.
std::string format_seconds(double s);

// An SVG bar chart of the non-cumulative bucket counts.
std::string histogram_svg(const prometheus::ClientMetric::Histogram& h);

std::string render_landing_page(const std::vector<prometheus::MetricFamily>& families,
                                const std::string& telemetry_path);

} // namespace tif

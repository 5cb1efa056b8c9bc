// Histograms aggregated in the kernel in log2 buckets, turned into classic Prometheus
// histograms (cumulative `_bucket{le}`, `_sum`, `_count`) for prometheus-cpp.
#pragma once

#include <prometheus/client_metric.h>

#include <cstdint>
#include <span>

namespace tif {

// Upper bound of finite bucket i: 2^i units, scaled to seconds (unit_seconds = 1e-6 for us).
double log2_upper_bound(uint32_t i, double unit_seconds);

// `slots` are per-bucket (not cumulative) counts: slots[i] for 2^(i-1) < v <= 2^i units, the
// last slot for everything above (+Inf). `sum_units` is the sum of the observed values. The
// count is taken from the slots, so `_count` always equals the +Inf bucket even when the kernel
// was updating the histogram while we read it.
prometheus::ClientMetric::Histogram log2_histogram(std::span<const uint64_t> slots,
                                                   double sum_units, double unit_seconds);

} // namespace tif

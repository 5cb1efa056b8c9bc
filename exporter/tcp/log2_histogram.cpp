#include "tcp/log2_histogram.h"

#include <cmath>
#include <limits>

namespace tif {

double log2_upper_bound(uint32_t i, double unit_seconds) {
    return std::ldexp(unit_seconds, int(i));
}

prometheus::ClientMetric::Histogram log2_histogram(std::span<const uint64_t> slots,
                                                   double sum_units, double unit_seconds) {
    prometheus::ClientMetric::Histogram h;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < slots.size(); ++i) {
        cumulative += slots[i];
        prometheus::ClientMetric::Bucket b;
        b.cumulative_count = cumulative;
        b.upper_bound = i + 1 < slots.size() ? log2_upper_bound(uint32_t(i), unit_seconds)
                                             : std::numeric_limits<double>::infinity();
        h.bucket.push_back(b);
    }
    h.sample_count = cumulative;
    h.sample_sum = sum_units * unit_seconds;
    return h;
}

} // namespace tif

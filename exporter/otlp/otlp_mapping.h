// Prometheus families -> one OTLP ExportMetricsServiceRequest (OTLP/HTTP's protobuf body):
//
//   counter            -> Sum, monotonic, cumulative, start time = the exporter's start
//   gauge, untyped     -> Gauge (info metrics are gauges of 1 here)
//   histogram          -> Histogram, cumulative: explicit bounds = the finite `le` values,
//                         per-bucket (not cumulative) counts with the +Inf bucket last, sum, count
//   summary            -> left out (no collector produces one; counted as skipped)
//
// Names stay the Prometheus names (counters keep "_total"), so a dashboard's queries work on
// either path; the unit is taken from the base-unit suffix (_seconds -> "s", _bytes -> "By").
// Labels become attributes. Exemplars (the table /metrics renders in OpenMetrics) go onto
// the points with trace_id and span_id as the raw 16 and 8 bytes: what links a metric to
// its trace in OTLP backends.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "openmetrics.h"
#include "otlp_metrics_service.pb.h"

namespace tif {

namespace otlp_pb = opentelemetry::proto;

struct OtlpResourceInfo {
    std::string service_name = "traceiface";
    std::string service_version;
    std::string host_name;
};

struct OtlpMappingStats {
    uint64_t data_points = 0;
    uint64_t skipped_families = 0; // types OTLP gets no mapping for here (summaries)
};

// What every OTLP request of traceiface starts with: the resource (service.name,
// service.version, host.name) and the instrumentation scope "traceiface" (with the version).
void otlp_fill_resource(otlp_pb::resource::v1::Resource* out, const OtlpResourceInfo& info);
void otlp_fill_scope(otlp_pb::common::v1::InstrumentationScope* out, const OtlpResourceInfo& info);

// `ex` may be null. Times are Unix nanoseconds; `now_ns` stamps points without a timestamp.
otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest
to_otlp_request(const std::vector<prometheus::MetricFamily>& families, const ExemplarTable* ex,
                const OtlpResourceInfo& resource, uint64_t start_ns, uint64_t now_ns,
                OtlpMappingStats* stats = nullptr);

// "4bf92f3577b34da6a3ce929d0e0e4736" -> its 16 bytes; nullopt unless exactly 2*n hex digits.
std::optional<std::string> hex_to_bytes(std::string_view hex, size_t n);

// "traceiface_tcp_rtt_seconds" -> "s"; "" when the name has no base-unit suffix we know.
std::string otlp_unit(std::string_view prometheus_name);

} // namespace tif

// The Prometheus -> OTLP mapping (exporter/otlp/otlp_mapping.h), read back through the
// generated messages, and the --otlp.* flags.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "config/options.h"
#include "metrics_registry.h"
#include "otlp/otlp_mapping.h"

using namespace tif;
using prometheus::MetricType;
namespace pbm = opentelemetry::proto::metrics::v1;

namespace {
const pbm::Metric* find(const otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest& r,
                        const std::string& name) {
    for (const auto& m : r.resource_metrics(0).scope_metrics(0).metrics())
        if (m.name() == name)
            return &m;
    return nullptr;
}
std::string
attr(const google::protobuf::RepeatedPtrField<opentelemetry::proto::common::v1::KeyValue>& kvs,
     const std::string& key) {
    for (const auto& kv : kvs)
        if (kv.key() == key)
            return kv.value().string_value();
    return "<absent>";
}

prometheus::MetricFamily rtt_family() {
    auto f = make_family("traceiface_tcp_rtt_seconds", "RTT.", MetricType::Histogram);
    prometheus::ClientMetric m;
    m.label = {{"iface", "eth0"}};
    m.histogram.sample_count = 10;
    m.histogram.sample_sum = 0.05;
    // Cumulative, as Prometheus has them: 2 at or below 1ms, 7 at or below 4ms, 10 in all.
    m.histogram.bucket = {{2, 0.001}, {7, 0.004}, {10, std::numeric_limits<double>::infinity()}};
    f.metric.push_back(m);
    return f;
}
} // namespace

TEST_CASE("otlp: counter -> monotonic cumulative Sum with its exemplar's ids as bytes") {
    ExemplarTable ex;
    ex.set_counter("traceiface_tcp_retransmit_segments_total", {{"iface", "eth0"}, {"kind", "rto"}},
                   Exemplar{{{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"},
                             {"span_id", "00f067aa0ba902b7"}},
                            3,
                            1700000000.5});
    auto f = make_family("traceiface_tcp_retransmit_segments_total", "Retransmits.",
                         MetricType::Counter);
    add_sample(f, {{"iface", "eth0"}, {"kind", "rto"}}, 42);
    add_sample(f, {{"iface", "eth1"}, {"kind", "rto"}}, 0);
    OtlpMappingStats st;
    auto req = to_otlp_request({f}, &ex, {.service_version = "1.2.3", .host_name = "node-a"}, 111,
                               222, &st);
    CHECK(st.data_points == 2);
    const auto& res = req.resource_metrics(0).resource().attributes();
    CHECK(attr(res, "service.name") == "traceiface");
    CHECK(attr(res, "service.version") == "1.2.3");
    CHECK(attr(res, "host.name") == "node-a");
    const auto* m = find(req, "traceiface_tcp_retransmit_segments_total");
    REQUIRE(m);
    REQUIRE(m->has_sum());
    CHECK(m->sum().is_monotonic());
    CHECK(m->sum().aggregation_temporality() == pbm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    REQUIRE(m->sum().data_points_size() == 2);
    const auto& p = m->sum().data_points(0);
    CHECK(attr(p.attributes(), "iface") == "eth0");
    CHECK(p.as_double() == 42);
    CHECK(p.start_time_unix_nano() == 111);
    CHECK(p.time_unix_nano() == 222);
    REQUIRE(p.exemplars_size() == 1);
    const auto& e = p.exemplars(0);
    CHECK(e.trace_id() == std::string("\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47"
                                      "\x36",
                                      16));
    CHECK(e.span_id() == std::string("\x00\xf0\x67\xaa\x0b\xa9\x02\xb7", 8));
    CHECK(e.as_double() == 3);
    CHECK(e.time_unix_nano() == 1700000000500000000ull);
    CHECK(e.filtered_attributes_size() == 0);
    CHECK(m->sum().data_points(1).exemplars_size() == 0);
}

TEST_CASE("otlp: histogram -> explicit bounds and per-bucket counts") {
    ExemplarTable ex;
    ex.add_histogram("traceiface_tcp_rtt_seconds", {{"iface", "eth0"}},
                     Exemplar{{{"trace_id", "not-hex"}}, 0.003, std::nullopt});
    auto req = to_otlp_request({rtt_family()}, &ex, {}, 1, 2);
    const auto* m = find(req, "traceiface_tcp_rtt_seconds");
    REQUIRE(m);
    REQUIRE(m->has_histogram());
    CHECK(m->unit() == "s");
    CHECK(m->histogram().aggregation_temporality() == pbm::AGGREGATION_TEMPORALITY_CUMULATIVE);
    const auto& p = m->histogram().data_points(0);
    REQUIRE(p.explicit_bounds_size() == 2);
    CHECK(p.explicit_bounds(0) == 0.001);
    CHECK(p.explicit_bounds(1) == 0.004);
    REQUIRE(p.bucket_counts_size() == 3);
    CHECK(p.bucket_counts(0) == 2);
    CHECK(p.bucket_counts(1) == 5);
    CHECK(p.bucket_counts(2) == 3);
    CHECK(p.count() == 10);
    CHECK(p.sum() == 0.05);
    // An id that is not 32 hex digits stays a plain attribute; the time is the push's.
    REQUIRE(p.exemplars_size() == 1);
    CHECK(p.exemplars(0).trace_id().empty());
    CHECK(attr(p.exemplars(0).filtered_attributes(), "trace_id") == "not-hex");
    CHECK(p.exemplars(0).time_unix_nano() == 2);
}

TEST_CASE("otlp: gauge, untyped -> Gauge; summaries and empty families are left out") {
    auto g = make_family("traceiface_interfaces_watched", "", MetricType::Gauge);
    add_sample(g, {}, 3);
    auto u = make_family("traceiface_build_info", "", MetricType::Untyped);
    add_sample(u, {{"version", "x"}}, 1);
    auto s = make_family("some_summary", "", MetricType::Summary);
    s.metric.emplace_back();
    auto empty = make_family("traceiface_nothing_total", "", MetricType::Counter);
    OtlpMappingStats st;
    auto req = to_otlp_request({g, u, s, empty}, nullptr, {}, 1, 2, &st);
    CHECK(req.resource_metrics(0).scope_metrics(0).metrics_size() == 2);
    CHECK(st.skipped_families == 1);
    REQUIRE(find(req, "traceiface_interfaces_watched"));
    CHECK(find(req, "traceiface_interfaces_watched")->gauge().data_points(0).as_double() == 3);
    REQUIRE(find(req, "traceiface_build_info"));
    CHECK(find(req, "traceiface_build_info")->has_gauge());
}

TEST_CASE("otlp: units from the name's base-unit suffix") {
    CHECK(otlp_unit("traceiface_tcp_rtt_seconds") == "s");
    CHECK(otlp_unit("traceiface_bpf_program_run_seconds_total") == "s");
    CHECK(otlp_unit("traceiface_bytes_total") == "By");
    CHECK(otlp_unit("traceiface_packets_total") == "");
}

TEST_CASE("otlp: flags") {
    auto o = parse_options({});
    REQUIRE(o);
    CHECK(o->otlp.endpoint.empty());
    CHECK(o->otlp.interval_ns == 30'000'000'000ull);
    o = parse_options({"--otlp.endpoint=http://collector:4318", "--otlp.interval=5s",
                       "--otlp.header=Authorization=Bearer a=b", "--otlp.header=X-A=1,X-B=2"});
    REQUIRE(o);
    CHECK(o->otlp.interval_ns == 5'000'000'000ull);
    REQUIRE(o->otlp.headers.size() == 3);
    CHECK(o->otlp.headers[0].first == "Authorization");
    CHECK(o->otlp.headers[0].second == "Bearer a=b");
    CHECK(o->otlp.headers[2].first == "X-B");
    for (const char* bad :
         {"--otlp.endpoint=collector:4318", "--otlp.endpoint=grpc://c:4317",
          "--otlp.endpoint=http://", "--otlp.interval=500ms", "--otlp.interval=2h",
          "--otlp.header=novalue", "--otlp.header=Bad Name=1", "--otlp.header==v"})
        CHECK_MESSAGE(!parse_options({bad}), bad);

    auto t = parse_otlp_endpoint("http://c:4318");
    REQUIRE(t);
    CHECK(t->scheme_host_port == "http://c:4318");
    CHECK(t->path == "/v1/metrics");
    CHECK(parse_otlp_endpoint("https://c/otlp/")->path == "/otlp/v1/metrics");
    CHECK(parse_otlp_endpoint("http://c:4318/v1/metrics")->path == "/v1/metrics");
}

#include <doctest/doctest.h>

#include <cmath>

#include "metrics_registry.h"
#include "openmetrics.h"

using namespace tif;
using prometheus::MetricType;

namespace {
prometheus::MetricFamily histogram() {
    auto f = make_family("traceiface_tcp_rtt_seconds", "RTT", MetricType::Histogram);
    prometheus::ClientMetric m;
    m.label = {{"iface", "eth0"}};
    m.histogram.sample_count = 5;
    m.histogram.sample_sum = 0.0125;
    m.histogram.bucket = {{1, 0.001}, {4, 0.01}};
    f.metric.push_back(m);
    return f;
}
} // namespace

TEST_CASE("counters: TYPE without _total, samples with it, and # EOF last") {
    auto f =
        make_family("traceiface_tcp_retransmit_segments_total", "Segments.", MetricType::Counter);
    add_sample(f, {{"iface", "eth0"}, {"kind", "rto"}}, 12);
    std::string s = serialize_openmetrics({f}, nullptr);
    CHECK(s == "# TYPE traceiface_tcp_retransmit_segments counter\n"
               "# HELP traceiface_tcp_retransmit_segments Segments.\n"
               "traceiface_tcp_retransmit_segments_total{iface=\"eth0\",kind=\"rto\"} 12\n"
               "# EOF\n");
}

TEST_CASE("escaping in HELP and label values; gauges, unknown and special values") {
    auto g = make_family("g", "a \"quoted\" back\\slash\nnewline", MetricType::Gauge);
    add_sample(g, {{"l", "x\"y\\z\nw"}}, std::numeric_limits<double>::infinity());
    auto u = make_family("u", "", MetricType::Untyped);
    add_sample(u, {}, std::nan(""));
    std::string s = serialize_openmetrics({g, u}, nullptr);
    CHECK(s == "# TYPE g gauge\n"
               "# HELP g a \\\"quoted\\\" back\\\\slash\\nnewline\n"
               "g{l=\"x\\\"y\\\\z\\nw\"} +Inf\n"
               "# TYPE u unknown\n"
               "u NaN\n"
               "# EOF\n");
    CHECK(om_number(0.25) == "0.25");
    CHECK(om_number(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(om_number(1e-06) == "1e-06");
}

TEST_CASE("histograms: cumulative buckets, canonical le, an added +Inf, _count and _sum") {
    std::string s = serialize_openmetrics({histogram()}, nullptr);
    CHECK(s == "# TYPE traceiface_tcp_rtt_seconds histogram\n"
               "# HELP traceiface_tcp_rtt_seconds RTT\n"
               "traceiface_tcp_rtt_seconds_bucket{iface=\"eth0\",le=\"0.001\"} 1\n"
               "traceiface_tcp_rtt_seconds_bucket{iface=\"eth0\",le=\"0.01\"} 4\n"
               "traceiface_tcp_rtt_seconds_bucket{iface=\"eth0\",le=\"+Inf\"} 5\n"
               "traceiface_tcp_rtt_seconds_count{iface=\"eth0\"} 5\n"
               "traceiface_tcp_rtt_seconds_sum{iface=\"eth0\"} 0.0125\n"
               "# EOF\n");
    auto f = histogram();
    f.metric[0].histogram.bucket = {{1, 1}, {5, std::numeric_limits<double>::infinity()}};
    s = serialize_openmetrics({f}, nullptr);
    CHECK(s.find("le=\"1.0\"} 1\n") != std::string::npos); // integral bound keeps ".0"
    CHECK(s.find("le=\"+Inf\"} 5\n") != std::string::npos);
    CHECK(s.find("le=\"+Inf\"} 5\ntraceiface_tcp_rtt_seconds_bucket") == std::string::npos);
}

TEST_CASE("exemplars on a counter and on the right histogram bucket") {
    ExemplarTable ex;
    // Label order of the series does not matter for the lookup.
    ex.set_counter("c_total", {{"kind", "rto"}, {"iface", "eth0"}},
                   {{{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}}, 2, 1700000000.5});
    auto c = make_family("c_total", "", MetricType::Counter);
    add_sample(c, {{"iface", "eth0"}, {"kind", "rto"}}, 7);
    add_sample(c, {{"iface", "eth1"}, {"kind", "rto"}}, 3);
    ex.add_histogram("traceiface_tcp_rtt_seconds", {{"iface", "eth0"}},
                     {{{"trace_id", "aa"}}, 0.005, std::nullopt});
    ex.add_histogram("traceiface_tcp_rtt_seconds", {{"iface", "eth0"}},
                     {{{"trace_id", "bb"}}, 0.0005, 1.25});
    std::string s = serialize_openmetrics({c, histogram()}, &ex);
    CHECK(s.find("c_total{iface=\"eth0\",kind=\"rto\"} 7 # "
                 "{trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 2 1700000000.5\n") !=
          std::string::npos);
    CHECK(s.find("c_total{iface=\"eth1\",kind=\"rto\"} 3\n") != std::string::npos);
    CHECK(s.find("le=\"0.001\"} 1 # {trace_id=\"bb\"} 5e-04 1.25\n") != std::string::npos);
    CHECK(s.find("le=\"0.01\"} 4 # {trace_id=\"aa\"} 0.005\n") != std::string::npos);
    CHECK(s.find("le=\"+Inf\"} 5\n") != std::string::npos);
    CHECK(s.ends_with("# EOF\n"));
}

TEST_CASE("an exemplar label set over 128 characters is left out") {
    LabelPairs ok = {{"trace_id", std::string(120, 'a')}}; // 8 + 120 = 128
    LabelPairs too_long = {{"trace_id", std::string(121, 'a')}};
    CHECK(exemplar_fits(ok));
    CHECK_FALSE(exemplar_fits(too_long));
    CHECK(exemplar_fits({{"n", std::string(60, '\xc3') + std::string(60, '\xa9')}}) == true);
    ExemplarTable ex;
    ex.set_counter("c_total", {}, {too_long, 1, std::nullopt});
    auto c = make_family("c_total", "", MetricType::Counter);
    add_sample(c, {}, 1);
    CHECK(serialize_openmetrics({c}, &ex) == "# TYPE c counter\nc_total 1\n# EOF\n");
    ex.set_counter("c_total", {}, {ok, 1, std::nullopt});
    CHECK(serialize_openmetrics({c}, &ex).find("c_total 1 # {trace_id=") != std::string::npos);
}

TEST_CASE("Accept negotiation") {
    CHECK(accepts_openmetrics("application/openmetrics-text;version=1.0.0,application/"
                              "openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;"
                              "q=0.5,*/*;q=0.1"));
    CHECK(accepts_openmetrics("application/openmetrics-text"));
    CHECK_FALSE(accepts_openmetrics(""));
    CHECK_FALSE(accepts_openmetrics("*/*"));
    CHECK_FALSE(accepts_openmetrics("text/plain;version=0.0.4"));
    CHECK_FALSE(accepts_openmetrics("application/openmetrics-text;q=0.2, text/plain"));
    CHECK_FALSE(accepts_openmetrics("application/openmetrics-text;q=0"));
}

TEST_CASE("a vanished interface's exemplars are forgotten, no other's") {
    ExemplarTable ex;
    ex.set_counter("c_total", {{"iface", "veth1"}, {"kind", "rto"}}, {{{"trace_id", "aa"}}, 1, {}});
    ex.set_counter("c_total", {{"iface", "veth10"}, {"kind", "rto"}},
                   {{{"trace_id", "bb"}}, 1, {}});
    ex.add_histogram("traceiface_tcp_rtt_seconds", {{"iface", "veth1"}},
                     {{{"trace_id", "cc"}}, 0.005, {}});
    ex.forget_label("iface", "veth1");
    CHECK(!ex.counter("c_total", {{"iface", "veth1"}, {"kind", "rto"}}));
    CHECK(ex.counter("c_total", {{"iface", "veth10"}, {"kind", "rto"}}));
    CHECK(ex.histogram("traceiface_tcp_rtt_seconds", {{"iface", "veth1"}}).empty());
}

#include <doctest/doctest.h>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>

#include "config/options.h"
#include "tcp/latency_collector.h"
#include "tcp/log2_histogram.h"
#include "tcp_latency.h"

using namespace tif;

TEST_CASE("kernel slot of a value in microseconds: smallest i with v <= 2^i") {
    CHECK(tif_lat_slot(0) == 0);
    CHECK(tif_lat_slot(1) == 0);
    CHECK(tif_lat_slot(2) == 1);
    CHECK(tif_lat_slot(3) == 2);
    CHECK(tif_lat_slot(4) == 2);
    CHECK(tif_lat_slot(5) == 3);
    for (uint32_t i = 1; i < TIF_LAT_FINITE_BUCKETS; ++i) {
        CAPTURE(i);
        const uint64_t bound = uint64_t{1} << i;
        CHECK(tif_lat_slot(bound) == i);
        CHECK(tif_lat_slot(bound + 1) == i + 1);
        CHECK(tif_lat_slot(bound / 2 + 1) == i);
    }
    // 2^25 us = 33.55 s is the last finite bound; anything above is +Inf.
    CHECK(tif_lat_slot(uint64_t{1} << 25) == TIF_LAT_FINITE_BUCKETS - 1);
    CHECK(tif_lat_slot((uint64_t{1} << 25) + 1) == TIF_LAT_FINITE_BUCKETS);
    CHECK(tif_lat_slot(uint64_t{1} << 40) == TIF_LAT_FINITE_BUCKETS);
    CHECK(tif_lat_slot(UINT64_MAX) == TIF_LAT_FINITE_BUCKETS);
}

TEST_CASE("bucket bounds span 1 us to tens of seconds") {
    CHECK(log2_upper_bound(0, 1e-6) == doctest::Approx(1e-6));
    CHECK(log2_upper_bound(10, 1e-6) == doctest::Approx(1.024e-3));
    CHECK(log2_upper_bound(TIF_LAT_FINITE_BUCKETS - 1, 1e-6) == doctest::Approx(33.554432));
}

TEST_CASE("slots become a cumulative histogram in seconds with +Inf last") {
    std::array<uint64_t, TIF_LAT_SLOTS> slots{};
    slots[0] = 1;  // <= 1 us
    slots[14] = 5; // 8.2 ms .. 16.4 ms
    slots[15] = 3;
    slots[TIF_LAT_FINITE_BUCKETS] = 2; // > 33.5 s
    auto h = log2_histogram(slots, 1'000'000.0, 1e-6);
    REQUIRE(h.bucket.size() == TIF_LAT_SLOTS);
    CHECK(h.bucket[0].cumulative_count == 1);
    CHECK(h.bucket[13].cumulative_count == 1);
    CHECK(h.bucket[14].cumulative_count == 6);
    CHECK(h.bucket[14].upper_bound == doctest::Approx(0.016384));
    CHECK(h.bucket[15].cumulative_count == 9);
    CHECK(h.bucket[TIF_LAT_FINITE_BUCKETS - 1].cumulative_count == 9);
    CHECK(std::isinf(h.bucket.back().upper_bound));
    CHECK(h.bucket.back().cumulative_count == 11);
    CHECK(h.sample_count == 11); // _count always equals the +Inf bucket
    CHECK(h.sample_sum == doctest::Approx(1.0));
}

TEST_CASE("an empty histogram is all zeros") {
    std::array<uint64_t, TIF_LAT_SLOTS> slots{};
    auto h = log2_histogram(slots, 0, 1e-6);
    CHECK(h.sample_count == 0);
    CHECK(h.sample_sum == 0);
    for (const auto& b : h.bucket)
        CHECK(b.cumulative_count == 0);
}

TEST_CASE("text exposition: classic histogram, one +Inf bucket, le in seconds") {
    std::array<uint64_t, TIF_LAT_SLOTS> slots{};
    slots[3] = 2;
    prometheus::MetricFamily f;
    f.name = "traceiface_tcp_rtt_seconds";
    f.help = "h";
    f.type = prometheus::MetricType::Histogram;
    prometheus::ClientMetric m;
    m.label = {{"iface", "veth0"}};
    m.histogram = log2_histogram(slots, 14, 1e-6);
    f.metric.push_back(m);
    std::string text = prometheus::TextSerializer().Serialize({f});
    CAPTURE(text);
    CHECK(text.find("# TYPE traceiface_tcp_rtt_seconds histogram") != std::string::npos);
    CHECK(text.find("traceiface_tcp_rtt_seconds_bucket{iface=\"veth0\",le=\"4e-06\"} 0") !=
          std::string::npos);
    CHECK(text.find("traceiface_tcp_rtt_seconds_bucket{iface=\"veth0\",le=\"8e-06\"} 2") !=
          std::string::npos);
    CHECK(text.find("traceiface_tcp_rtt_seconds_count{iface=\"veth0\"} 2") != std::string::npos);
    CHECK(text.find("traceiface_tcp_rtt_seconds_sum{iface=\"veth0\"} 1.4e-05") !=
          std::string::npos);
    const auto inf = text.find("le=\"+Inf\"} 2");
    CHECK(inf != std::string::npos);
    CHECK(text.find("le=\"+Inf\"", inf + 1) == std::string::npos);
}

TEST_CASE("connect failure reasons") {
    CHECK(connect_fail_reason(TIF_CONN_REFUSED) == "refused");
    CHECK(connect_fail_reason(TIF_CONN_TIMED_OUT) == "timed_out");
    CHECK(connect_fail_reason(TIF_CONN_OTHER) == "other");
    CHECK(connect_fail_reason(99) == "other");
}

TEST_CASE("--tcp.rtt-sample-interval takes a duration") {
    auto o = parse_options({});
    REQUIRE(o);
    CHECK(o->tcp_rtt_sample_interval_ns == 1'000'000'000);
    o = parse_options({"--tcp.rtt-sample-interval=250ms"});
    REQUIRE(o);
    CHECK(o->tcp_rtt_sample_interval_ns == 250'000'000);
    o = parse_options({"--tcp.rtt-sample-interval", "0"});
    REQUIRE(o);
    CHECK(o->tcp_rtt_sample_interval_ns == 0);
    CHECK(*parse_duration_ns("f", "2s") == 2'000'000'000);
    CHECK(*parse_duration_ns("f", "500us") == 500'000);
    CHECK(*parse_duration_ns("f", "1m") == 60'000'000'000);
    for (const char* bad : {"", "1", "s", "ms", "1h", "-1s", "1.5s", "2m1s", "61m", "1 s"}) {
        CAPTURE(bad);
        auto r = parse_options({std::string("--tcp.rtt-sample-interval=") + bad});
        REQUIRE_FALSE(r);
        CHECK(r.error().what.find("--tcp.rtt-sample-interval") != std::string::npos);
    }
}

// Our text format 0.0.4 serializer against prometheus-cpp's TextSerializer as the oracle: the
// same bytes, except where ours is deliberately different (NaN spelling, numbers that 16
// digits cannot carry, HELP escaping), which is checked exactly too.
#include <doctest/doctest.h>
#include <prometheus/text_serializer.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "exposition.h"
#include "metrics_registry.h"
#include "packets/packet_collector.h"
#include "tcp/log2_histogram.h"
#include "text_format.h"

using namespace tif;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {
constexpr double INF = std::numeric_limits<double>::infinity();

std::string theirs(const std::vector<MetricFamily>& f) {
    return prometheus::TextSerializer().Serialize(f);
}

std::string num(double v) {
    std::string s;
    append_text_number(s, v);
    return s;
}

double parse(const std::string& s) {
    double v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

MetricFamily histogram_family(std::vector<ClientMetric::Bucket> buckets, int64_t ts = 0) {
    auto f = make_family("h_seconds", "A histogram.", MetricType::Histogram);
    ClientMetric m;
    m.label = {{"iface", "eth0"}};
    m.histogram.sample_count = 9;
    m.histogram.sample_sum = 0.125;
    m.histogram.bucket = std::move(buckets);
    m.timestamp_ms = ts;
    f.metric.push_back(m);
    m.label = {{"iface", "eth1"}}; // same bounds: the le cache is reused
    m.histogram.sample_count = 3;
    f.metric.push_back(m);
    return f;
}
} // namespace

TEST_CASE("text format: counters, gauges, untyped and summaries as prometheus-cpp writes them") {
    auto c = make_family("c_total", "Segments.", MetricType::Counter);
    add_sample(c, {{"iface", "eth0"}, {"kind", "rto"}}, 12);
    add_sample(c, {{"iface", "eth1"}, {"kind", "fast"}}, 4e15);
    auto g = make_family("g", "", MetricType::Gauge); // no HELP line
    add_sample(g, {}, -3);
    add_sample(g, {{"a", ""}}, 0.25);
    add_sample(g, {{"a", "x"}}, -0.0).timestamp_ms = 1700000000123;
    auto u = make_family("u", "Untyped.", MetricType::Untyped);
    add_sample(u, {{"x", "1"}}, 1e-7);
    auto s = make_family("s", "Summary.", MetricType::Summary);
    ClientMetric m;
    m.label = {{"q", "z"}};
    m.summary.sample_count = 3;
    m.summary.sample_sum = 1.5;
    m.summary.quantile = {{0.5, 1}, {0.99, 2.5}};
    s.metric.push_back(m);
    auto empty = make_family("e_total", "No series yet.", MetricType::Counter);
    std::vector<MetricFamily> all{c, g, u, s, empty};
    CHECK(serialize_text(all) == theirs(all));
    CHECK(serialize_text({c}) == "# HELP c_total Segments.\n"
                                 "# TYPE c_total counter\n"
                                 "c_total{iface=\"eth0\",kind=\"rto\"} 12\n"
                                 "c_total{iface=\"eth1\",kind=\"fast\"} 4000000000000000\n");
}

TEST_CASE("text format: histograms, with and without a +Inf bucket, with timestamps") {
    std::vector<ClientMetric::Bucket> finite{{1, 1e-6}, {4, 0.000512}, {8, 33.554432}};
    std::vector<ClientMetric::Bucket> with_inf{{1, 64}, {2, 65536}, {9, INF}};
    std::vector<MetricFamily> all{histogram_family(finite), histogram_family(with_inf, 42),
                                  histogram_family({})};
    CHECK(serialize_text(all) == theirs(all));
    const std::string s = serialize_text({histogram_family(finite)});
    CHECK(s.find("h_seconds_count{iface=\"eth0\"} 9\n"
                 "h_seconds_sum{iface=\"eth0\"} 0.125\n"
                 "h_seconds_bucket{iface=\"eth0\",le=\"1e-06\"} 1\n") != std::string::npos);
    CHECK(s.find("h_seconds_bucket{iface=\"eth1\",le=\"+Inf\"} 3\n") != std::string::npos);
}

TEST_CASE("text format: the collectors' real families are byte-identical") {
    PacketSnapshot snap;
    for (int i = 0; i < 3; ++i) {
        IfaceSeries is;
        is.link.name = "eth" + std::to_string(i);
        is.link.ifindex = uint32_t(2 + i);
        is.link.mtu = 9000;
        is.kind = i ? "veth" : "";
        is.master = i == 2 ? "br0" : "";
        is.gone = i == 1;
        for (auto& c : is.dir) {
            for (uint32_t b = 0; b < TIF_SIZE_BUCKETS; ++b)
                c.size_hist[b] = b * 1000003ull * (i + 1), c.packets += c.size_hist[b];
            c.bytes = c.packets * 1400;
        }
        snap.ifaces.push_back(is);
    }
    snap.watched = 2;
    std::vector<MetricFamily> fams;
    packet_families(snap, fams);
    auto rtt = make_family("traceiface_tcp_rtt_seconds", "RTT.", MetricType::Histogram);
    std::vector<uint64_t> slots(27, 7); // as many as TIF_LAT_SLOTS
    ClientMetric m;
    m.label = {{"iface", "eth0"}};
    m.histogram = log2_histogram(slots, 123456789, 1e-6);
    rtt.metric.push_back(m);
    fams.push_back(rtt);
    CHECK(serialize_text(fams) == theirs(fams));
}

TEST_CASE("text format: label values escape \\, \" and newline exactly like prometheus-cpp") {
    auto g = make_family("g", "Help.", MetricType::Gauge);
    add_sample(g, {{"v", "a\\b\"c\nd"}, {"w", "\\\\\"\"\n\n"}, {"u", "ünïcødé /x"}}, 1);
    CHECK(serialize_text({g}) == theirs({g}));
    CHECK(serialize_text({g}).find("g{v=\"a\\\\b\\\"c\\nd\",w=\"\\\\\\\\\\\"\\\"\\n\\n\"") !=
          std::string::npos);
}

TEST_CASE("text format: special values; NaN spelled as the format spells it") {
    auto g = make_family("g", "", MetricType::Gauge);
    add_sample(g, {}, INF);
    add_sample(g, {}, -INF);
    CHECK(serialize_text({g}) == theirs({g}));
    add_sample(g, {}, std::nan(""));
    CHECK(serialize_text({g}) == "# TYPE g gauge\ng +Inf\ng -Inf\ng NaN\n");
    CHECK(theirs({g}).ends_with("g Nan\n")); // prometheus-cpp's spelling, also accepted
}

TEST_CASE("text format: HELP escapes \\ and newline (prometheus-cpp leaves them raw)") {
    auto g = make_family("g", "back\\slash \"quoted\"\nsecond line", MetricType::Gauge);
    CHECK(serialize_text({g}) == "# HELP g back\\\\slash \"quoted\"\\nsecond line\n"
                                 "# TYPE g gauge\n");
    CHECK(theirs({g}).starts_with("# HELP g back\\slash \"quoted\"\nsecond line\n"));
}

TEST_CASE("text format numbers: %.16g where exact, 17 digits where 16 would round") {
    CHECK(num(0) == "0");
    CHECK(num(-0.0) == "-0");
    CHECK(num(123) == "123");
    CHECK(num(1e15) == "1000000000000000");
    CHECK(num(9007199254740992.0) == "9007199254740992");
    CHECK(num(1e16) == "1e+16");
    CHECK(num(1.5e10) == "15000000000");
    CHECK(num(1e-6) == "1e-06");
    CHECK(num(0.0001) == "0.0001");
    CHECK(num(1.0 / 3) == "0.3333333333333333");
    // prometheus-cpp: 0.3, 1.797693134862316e+308 (which overflows when parsed back).
    CHECK(num(0.1 + 0.2) == "0.30000000000000004");
    CHECK(num(std::numeric_limits<double>::max()) == "1.7976931348623157e+308");
    CHECK(num(2251799813685248.5) == "2251799813685248.5"); // 2^51 + 0.5
}

TEST_CASE("text format numbers: random values equal prometheus-cpp's or are exact where it "
          "rounds") {
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> mant(-10, 10);
    std::uniform_int_distribution<int> exp(-30, 30);
    auto g = make_family("g", "", MetricType::Gauge);
    for (int i = 0; i < 20000; ++i) {
        double v = std::ldexp(mant(rng), exp(rng) * 3);
        if (i % 4 == 0)
            v = std::round(v); // integral values, the common case
        add_sample(g, {}, v);
    }
    std::istringstream a(serialize_text({g})), b(theirs({g}));
    std::string la, lb;
    size_t differ = 0, lines = 0;
    for (size_t i = 0; std::getline(a, la) && std::getline(b, lb); ++i) {
        if (i == 0) // # TYPE
            continue;
        ++lines;
        const double v = g.metric[i - 1].gauge.value;
        const std::string ours = la.substr(2), cpp = lb.substr(2);
        CHECK(parse(ours) == v); // always exact
        if (ours != cpp) {
            ++differ;
            CHECK(parse(cpp) != v); // only where prometheus-cpp's 16 digits lose the value
        }
    }
    CHECK(lines == g.metric.size());
    MESSAGE("values prometheus-cpp rounds: ", differ, " of ", lines);
}

#include <doctest/doctest.h>

#include <cmath>

#include "landing_page.h"
#include "metrics_registry.h"

using namespace tif;
using prometheus::ClientMetric;

namespace {
ClientMetric::Histogram hist(std::vector<std::pair<double, uint64_t>> cumulative) {
    ClientMetric::Histogram h;
    for (auto [le, c] : cumulative)
        h.bucket.push_back({c, le});
    h.sample_count = h.bucket.empty() ? 0 : h.bucket.back().cumulative_count;
    return h;
}
} // namespace

TEST_CASE("quantiles interpolate inside the bucket, like histogram_quantile()") {
    auto h = hist({{1, 0}, {2, 10}, {4, 20}, {INFINITY, 20}});
    CHECK(histogram_quantile(0.5, h) == doctest::Approx(2.0));
    CHECK(histogram_quantile(0.25, h) == doctest::Approx(1.5));
    CHECK(histogram_quantile(0.75, h) == doctest::Approx(3.0));
    CHECK(std::isnan(histogram_quantile(0.5, hist({{1, 0}, {INFINITY, 0}}))));
    // Rank in +Inf: the highest finite bound, as Prometheus does.
    CHECK(histogram_quantile(0.99, hist({{1, 1}, {INFINITY, 100}})) == doctest::Approx(1.0));
}

TEST_CASE("interface names are escaped") {
    CHECK(html_escape("a<b>&\"'") == "a&lt;b&gt;&amp;&quot;&#39;");
}

TEST_CASE("durations read naturally") {
    CHECK(format_seconds(0.0015) == "1.5 ms");
    CHECK(format_seconds(0.00032) == "320 µs");
    CHECK(format_seconds(2.1) == "2.1 s");
    CHECK(format_seconds(NAN) == "–");
}

TEST_CASE("the page has one row per interface with its figures and an SVG histogram") {
    std::vector<prometheus::MetricFamily> fams;
    auto rtx = make_family("traceiface_tcp_retransmit_segments_total", "",
                           prometheus::MetricType::Counter);
    add_sample(rtx, {{"iface", "veth<1>"}, {"kind", "fast"}}, 5);
    add_sample(rtx, {{"iface", "veth<1>"}, {"kind", "rto"}}, 2);
    fams.push_back(rtx);
    auto rtt = make_family("traceiface_tcp_rtt_seconds", "", prometheus::MetricType::Histogram);
    ClientMetric m;
    m.label = {{"iface", "veth<1>"}};
    m.histogram = hist({{0.001, 0}, {0.002, 10}, {INFINITY, 10}});
    rtt.metric.push_back(m);
    fams.push_back(rtt);

    std::string page = render_landing_page(fams, "/metrics");
    CHECK(page.find("<td class=\"iface\">veth&lt;1&gt;</td>") != std::string::npos);
    CHECK(page.find("<td>7</td>") != std::string::npos); // 5 + 2 retransmitted segments
    CHECK(page.find("1.5 ms") != std::string::npos);     // p50
    CHECK(page.find("<svg class=\"hist\"") != std::string::npos);
    CHECK(page.find("<script") == std::string::npos);
    CHECK(page.find("http://") == page.find("http://www.w3.org/2000/svg")); // no external asset
}

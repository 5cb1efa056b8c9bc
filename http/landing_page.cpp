#include "landing_page.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "version.h"

namespace tif {

using prometheus::ClientMetric;
using prometheus::MetricFamily;

double histogram_quantile(double q, const ClientMetric::Histogram& h) {
    if (h.bucket.empty() || h.bucket.back().cumulative_count == 0)
        return NAN;
    const double rank = q * double(h.bucket.back().cumulative_count);
    double lower = 0, below = 0;
    for (const auto& b : h.bucket) {
        if (double(b.cumulative_count) >= rank) {
            if (std::isinf(b.upper_bound))
                return lower;
            const double in_bucket = double(b.cumulative_count) - below;
            if (in_bucket <= 0)
                return b.upper_bound;
            return lower + (b.upper_bound - lower) * (rank - below) / in_bucket;
        }
        lower = b.upper_bound;
        below = double(b.cumulative_count);
    }
    return lower;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string format_seconds(double s) {
    if (std::isnan(s))
        return "–";
    char buf[32];
    if (s >= 1)
        std::snprintf(buf, sizeof(buf), "%.3g s", s);
    else if (s >= 1e-3)
        std::snprintf(buf, sizeof(buf), "%.3g ms", s * 1e3);
    else
        std::snprintf(buf, sizeof(buf), "%.3g µs", s * 1e6);
    return buf;
}

std::string histogram_svg(const ClientMetric::Histogram& h) {
    constexpr int W = 240, H = 48, PAD = 2;
    std::vector<double> counts;
    uint64_t prev = 0, peak = 0;
    for (const auto& b : h.bucket) {
        counts.push_back(double(b.cumulative_count - prev));
        peak = std::max(peak, b.cumulative_count - prev);
        prev = b.cumulative_count;
    }
    std::string svg = "<svg class=\"hist\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                      std::to_string(W) + "\" height=\"" + std::to_string(H) +
                      "\" role=\"img\"><title>RTT histogram</title>";
    if (peak > 0 && !counts.empty()) {
        const double bw = double(W) / double(counts.size());
        char rect[160];
        for (size_t i = 0; i < counts.size(); ++i) {
            const double bh = (H - PAD) * counts[i] / double(peak);
            std::snprintf(rect, sizeof(rect),
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"/>",
                          double(i) * bw, H - bh, std::max(bw - 1, 1.0), bh);
            svg += rect;
        }
    }
    return svg + "</svg>";
}

namespace {

struct IfaceRow {
    double packets = 0, retransmits = 0, oversize = 0;
    ClientMetric::Histogram rtt;
    bool has_rtt = false;
};

std::string label(const ClientMetric& m, std::string_view name) {
    for (const auto& l : m.label)
        if (l.name == name)
            return l.value;
    return {};
}

double value(const MetricFamily& f, const ClientMetric& m) {
    return f.type == prometheus::MetricType::Counter ? m.counter.value
           : f.type == prometheus::MetricType::Gauge ? m.gauge.value
                                                     : m.untyped.value;
}

std::map<std::string, IfaceRow> rows_by_iface(const std::vector<MetricFamily>& families) {
    std::map<std::string, IfaceRow> rows;
    for (const auto& f : families) {
        for (const auto& m : f.metric) {
            std::string iface = label(m, "iface");
            if (iface.empty())
                continue;
            if (f.name == "traceiface_packets_total")
                rows[iface].packets += value(f, m);
            else if (f.name == "traceiface_tcp_retransmit_segments_total")
                rows[iface].retransmits += value(f, m);
            else if (f.name == "traceiface_oversize_packets_total")
                rows[iface].oversize += value(f, m);
            else if (f.name == "traceiface_tcp_rtt_seconds") {
                rows[iface].rtt = m.histogram;
                rows[iface].has_rtt = true;
            }
        }
    }
    return rows;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.0f", v);
    return buf;
}

} // namespace

std::string render_landing_page(const std::vector<MetricFamily>& families,
                                const std::string& telemetry_path) {
    std::string html =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>traceiface</title>"
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}"
        "td.iface{text-align:left;font-family:monospace}svg.hist rect{fill:#3b7dd8}"
        "</style></head><body><h1>traceiface " TRACEIFACE_VERSION "</h1>"
        "<p>Per-interface TCP health since the exporter started. Metrics: <a href=\"" +
        html_escape(telemetry_path) + "\">" + html_escape(telemetry_path) +
        "</a> · <a href=\"/-/healthy\">healthy</a> · <a href=\"/-/ready\">ready</a></p>"
        "<table id=\"interfaces\"><thead><tr><th>Interface</th><th>Packets</th>"
        "<th>Retransmitted segments</th><th>RTT p50</th><th>RTT p99</th>"
        "<th>Oversize frames</th><th>RTT histogram</th></tr></thead><tbody>";
    for (const auto& [iface, r] : rows_by_iface(families)) {
        const double p50 = r.has_rtt ? histogram_quantile(0.5, r.rtt) : NAN;
        const double p99 = r.has_rtt ? histogram_quantile(0.99, r.rtt) : NAN;
        html += "<tr><td class=\"iface\">" + html_escape(iface) + "</td><td>" + num(r.packets) +
                "</td><td>" + num(r.retransmits) + "</td><td>" + format_seconds(p50) + "</td><td>" +
                format_seconds(p99) + "</td><td>" + num(r.oversize) + "</td><td>" +
                (r.has_rtt ? histogram_svg(r.rtt) : std::string("–")) + "</td></tr>";
    }
    html += "</tbody></table></body></html>\n";
    return html;
}

} // namespace tif

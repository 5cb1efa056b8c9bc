#include "openmetrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace tif {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

bool exemplar_fits(const LabelPairs& labels) {
    size_t chars = 0;
    for (const auto& [k, v] : labels) // UTF-8 characters: count the non-continuation bytes
        for (unsigned char c : k + v)
            chars += (c & 0xC0) != 0x80;
    return chars <= EXEMPLAR_MAX_LABEL_CHARS;
}

std::string ExemplarTable::key(const std::string& family, LabelPairs series) {
    std::sort(series.begin(), series.end());
    std::string k = family;
    for (const auto& [n, v] : series)
        k += '\x1f' + n + '\x1e' + v;
    return k;
}

namespace {
LabelPairs pairs(const std::vector<ClientMetric::Label>& l) {
    LabelPairs p;
    for (const auto& x : l)
        p.emplace_back(x.name, x.value);
    return p;
}
} // namespace

void ExemplarTable::set_counter(const std::string& family, const LabelPairs& series, Exemplar e) {
    std::lock_guard lk(mu_);
    counters_[key(family, series)] = std::move(e);
}

void ExemplarTable::add_histogram(const std::string& family, const LabelPairs& series, Exemplar e) {
    std::lock_guard lk(mu_);
    auto& q = histograms_[key(family, series)];
    q.push_back(std::move(e));
    if (q.size() > PER_HISTOGRAM_SERIES)
        q.pop_front();
}

std::optional<Exemplar> ExemplarTable::counter(const std::string& family,
                                               const std::vector<ClientMetric::Label>& l) const {
    std::lock_guard lk(mu_);
    auto it = counters_.find(key(family, pairs(l)));
    if (it == counters_.end())
        return std::nullopt;
    return it->second;
}

std::optional<Exemplar> ExemplarTable::bucket(const std::string& family,
                                              const std::vector<ClientMetric::Label>& l,
                                              double lower, double upper) const {
    std::lock_guard lk(mu_);
    auto it = histograms_.find(key(family, pairs(l)));
    if (it == histograms_.end())
        return std::nullopt;
    for (auto e = it->second.rbegin(); e != it->second.rend(); ++e)
        if (e->value > lower && e->value <= upper)
            return *e;
    return std::nullopt;
}

bool accepts_openmetrics(std::string_view accept) {
    double om = -1, text = -1;
    while (!accept.empty()) {
        auto comma = accept.find(',');
        std::string_view item = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? "" : accept.substr(comma + 1);
        auto semi = item.find(';');
        std::string_view type = item.substr(0, semi);
        while (!type.empty() && type.front() == ' ')
            type.remove_prefix(1);
        while (!type.empty() && type.back() == ' ')
            type.remove_suffix(1);
        double q = 1;
        if (auto qp = item.find("q=", semi == std::string_view::npos ? item.size() : semi);
            qp != std::string_view::npos) {
            std::string_view qs = item.substr(qp + 2);
            auto [p, ec] = std::from_chars(qs.data(), qs.data() + qs.size(), q);
            if (ec != std::errc{})
                q = 0;
        }
        if (type == "application/openmetrics-text")
            om = std::max(om, q);
        else if (type == "text/plain")
            text = std::max(text, q);
    }
    return om > 0 && om >= text;
}

std::string om_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string om_number(double v) {
    if (std::isnan(v))
        return "NaN";
    if (std::isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, p);
}

namespace {
// le and quantile values in canonical form: an integral value keeps its ".0".
std::string canonical_float(double v) {
    std::string s = om_number(v);
    if (s.find_first_of(".eIN") == std::string::npos)
        s += ".0";
    return s;
}

void labels(std::string& out, const std::vector<ClientMetric::Label>& l, const char* extra_name,
            const std::string& extra_value) {
    if (l.empty() && !extra_name)
        return;
    out += '{';
    bool first = true;
    for (const auto& x : l) {
        out += (first ? "" : ",") + x.name + "=\"" + om_escape(x.value) + '"';
        first = false;
    }
    if (extra_name)
        out += (first ? "" : ",") + std::string(extra_name) + "=\"" + extra_value + '"';
    out += '}';
}

void sample(std::string& out, const std::string& name, const ClientMetric& m, double value,
            const char* extra_name = nullptr, const std::string& extra_value = {},
            const std::optional<Exemplar>& ex = std::nullopt) {
    out += name;
    labels(out, m.label, extra_name, extra_value);
    out += ' ' + om_number(value);
    if (m.timestamp_ms != 0)
        out += ' ' + om_number(double(m.timestamp_ms) / 1000);
    if (ex && exemplar_fits(ex->labels)) {
        out += " # {";
        for (size_t i = 0; i < ex->labels.size(); ++i)
            out += (i ? "," : "") + ex->labels[i].first + "=\"" + om_escape(ex->labels[i].second) +
                   '"';
        out += "} " + om_number(ex->value);
        if (ex->timestamp_s)
            out += ' ' + om_number(*ex->timestamp_s);
    }
    out += '\n';
}

std::string strip(const std::string& s, std::string_view suffix) {
    return s.ends_with(suffix) ? s.substr(0, s.size() - suffix.size()) : s;
}
} // namespace

std::string serialize_openmetrics(const std::vector<MetricFamily>& families,
                                  const ExemplarTable* ex) {
    std::string out;
    for (const auto& f : families) {
        std::string meta = f.name, type;
        switch (f.type) {
        case MetricType::Counter:
            meta = strip(f.name, "_total"), type = "counter";
            break;
        case MetricType::Gauge:
            type = "gauge";
            break;
        case MetricType::Histogram:
            type = "histogram";
            break;
        case MetricType::Summary:
            type = "summary";
            break;
        default:
            type = "unknown";
        }
        out += "# TYPE " + meta + ' ' + type + '\n';
        if (!f.help.empty())
            out += "# HELP " + meta + ' ' + om_escape(f.help) + '\n';
        for (const auto& m : f.metric) {
            switch (f.type) {
            case MetricType::Counter:
                sample(out, meta + "_total", m, m.counter.value, nullptr, {},
                       ex ? ex->counter(f.name, m.label) : std::nullopt);
                break;
            case MetricType::Gauge:
                sample(out, meta, m, m.gauge.value);
                break;
            case MetricType::Summary:
                for (const auto& q : m.summary.quantile)
                    sample(out, meta, m, q.value, "quantile", canonical_float(q.quantile));
                sample(out, meta + "_sum", m, m.summary.sample_sum);
                sample(out, meta + "_count", m, double(m.summary.sample_count));
                break;
            case MetricType::Histogram: {
                double lower = -std::numeric_limits<double>::infinity();
                bool has_inf = false;
                auto bucket = [&](double upper, double count) {
                    sample(out, meta + "_bucket", m, count, "le", canonical_float(upper),
                           ex ? ex->bucket(f.name, m.label, lower, upper) : std::nullopt);
                    lower = upper;
                };
                for (const auto& b : m.histogram.bucket) {
                    has_inf = std::isinf(b.upper_bound) && b.upper_bound > 0;
                    bucket(b.upper_bound, double(b.cumulative_count));
                }
                if (!has_inf) // OpenMetrics requires the +Inf bucket
                    bucket(std::numeric_limits<double>::infinity(),
                           double(m.histogram.sample_count));
                sample(out, meta + "_count", m, double(m.histogram.sample_count));
                sample(out, meta + "_sum", m, m.histogram.sample_sum);
                break;
            }
            default:
                sample(out, meta, m, m.untyped.value);
            }
        }
    }
    out += "# EOF\n";
    return out;
}

} // namespace tif

#include "text_format.h"

#include <cmath>
#include <cstdint>
#include <string_view>

#include "exposition.h"

namespace tif {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

constexpr std::string_view type_name(MetricType t) {
    switch (t) {
    case MetricType::Counter:
        return "counter";
    case MetricType::Gauge:
        return "gauge";
    case MetricType::Summary:
        return "summary";
    case MetricType::Histogram:
        return "histogram";
    default:
        return "untyped";
    }
}

// One family's output state: the current series' label block, formatted once and repeated on
// each of its lines, and the family's le values, formatted once for all its series.
class FamilyWriter {
  public:
    FamilyWriter(std::string& out, const MetricFamily& f) : out_(out), f_(f) {}

    void series(const ClientMetric& m) {
        labels_.clear();
        for (const auto& l : m.label) {
            if (!labels_.empty())
                labels_ += ',';
            labels_ += l.name;
            labels_ += "=\"";
            append_escaped(labels_, l.value);
            labels_ += '"';
        }
        ts_ = m.timestamp_ms;
        switch (f_.type) {
        case MetricType::Counter:
            line_double({}, {}, m.counter.value);
            break;
        case MetricType::Gauge:
            line_double({}, {}, m.gauge.value);
            break;
        case MetricType::Summary:
            summary(m.summary);
            break;
        case MetricType::Histogram:
            histogram(m.histogram);
            break;
        default:
            line_double({}, {}, m.untyped.value);
        }
    }

  private:
    // name + suffix + {labels[,extra]} + ' ' (the value follows).
    void head(std::string_view suffix, std::string_view extra) {
        append_series_head(out_, f_.name, suffix, labels_, extra);
    }
    void tail() {
        if (ts_ != 0) {
            out_ += ' ';
            append_int(out_, ts_);
        }
        out_ += '\n';
    }
    void line_double(std::string_view suffix, std::string_view extra, double v) {
        head(suffix, extra);
        append_text_number(out_, v);
        tail();
    }
    void line_uint(std::string_view suffix, std::string_view extra, uint64_t v) {
        head(suffix, extra);
        append_uint(out_, v);
        tail();
    }

    // prometheus-cpp's order: _count, _sum, then the quantiles.
    void summary(const ClientMetric::Summary& s) {
        line_uint("_count", {}, s.sample_count);
        line_double("_sum", {}, s.sample_sum);
        for (const auto& q : s.quantile) {
            extra_.assign("quantile=\"");
            append_text_number(extra_, q.quantile);
            extra_ += '"';
            line_double({}, extra_, q.value);
        }
    }

    // _count, _sum, then the buckets, with a +Inf bucket added when the last one is finite.
    void histogram(const ClientMetric::Histogram& h) {
        line_uint("_count", {}, h.sample_count);
        line_double("_sum", {}, h.sample_sum);
        const auto& b = h.bucket;
        const auto& le = le_.of(b);
        for (size_t i = 0; i < b.size(); ++i)
            line_uint("_bucket", le[i], b[i].cumulative_count);
        if (b.empty() || !(std::isinf(b.back().upper_bound) && b.back().upper_bound > 0))
            line_uint("_bucket", "le=\"+Inf\"", h.sample_count);
    }

    std::string& out_;
    const MetricFamily& f_;
    std::string labels_; // name="value",... of the current series, escaped
    std::string extra_;  // quantile="..."
    int64_t ts_ = 0;
    BucketLabels le_{append_text_number};
};

// Bytes the body will take, roughly: enough to append without reallocating in the common case.
size_t estimate(const std::vector<MetricFamily>& families) {
    size_t n = 0;
    for (const auto& f : families) {
        n += 2 * f.name.size() + f.help.size() + 32;
        if (f.metric.empty())
            continue;
        const ClientMetric& m = f.metric.front();
        size_t labels = 2;
        for (const auto& l : m.label)
            labels += l.name.size() + l.value.size() + 4;
        size_t lines = 1;
        if (f.type == MetricType::Histogram)
            lines = m.histogram.bucket.size() + 3;
        else if (f.type == MetricType::Summary)
            lines = m.summary.quantile.size() + 2;
        n += f.metric.size() * lines * (f.name.size() + labels + 40);
    }
    return n;
}

} // namespace

void serialize_text(std::string& out, const std::vector<MetricFamily>& families) {
    out.reserve(out.size() + estimate(families));
    for (const auto& f : families) {
        if (!f.help.empty()) {
            out += "# HELP ";
            out += f.name;
            out += ' ';
            append_escaped_help(out, f.help);
            out += '\n';
        }
        out += "# TYPE ";
        out += f.name;
        out += ' ';
        out += type_name(f.type);
        out += '\n';
        FamilyWriter w(out, f);
        for (const auto& m : f.metric)
            w.series(m);
    }
}

std::string serialize_text(const std::vector<MetricFamily>& families) {
    std::string out;
    serialize_text(out, families);
    return out;
}

} // namespace tif

#include "openmetrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "exposition.h"

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

void ExemplarTable::forget_label(const std::string& name, const std::string& value) {
    const std::string pair = '\x1f' + name + '\x1e' + value;
    auto has = [&](const std::string& k) {
        for (size_t at = k.find(pair); at != std::string::npos; at = k.find(pair, at + 1))
            if (at + pair.size() == k.size() || k[at + pair.size()] == '\x1f')
                return true;
        return false;
    };
    std::lock_guard lk(mu_);
    std::erase_if(counters_, [&](const auto& kv) { return has(kv.first); });
    std::erase_if(histograms_, [&](const auto& kv) { return has(kv.first); });
}

std::optional<Exemplar> ExemplarTable::counter(const std::string& family,
                                               const std::vector<ClientMetric::Label>& l) const {
    std::lock_guard lk(mu_);
    auto it = counters_.find(key(family, pairs(l)));
    if (it == counters_.end())
        return std::nullopt;
    return it->second;
}

bool ExemplarTable::empty() const {
    std::lock_guard lk(mu_);
    return counters_.empty() && histograms_.empty();
}

std::vector<Exemplar> ExemplarTable::histogram(const std::string& family,
                                               const std::vector<ClientMetric::Label>& l) const {
    std::lock_guard lk(mu_);
    auto it = histograms_.find(key(family, pairs(l)));
    if (it == histograms_.end())
        return {};
    return {it->second.begin(), it->second.end()};
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
    append_escaped(out, s);
    return out;
}

std::string om_number(double v) {
    std::string out;
    append_shortest_number(out, v);
    return out;
}

namespace {
// le and quantile values in canonical form: an integral value keeps its ".0".
void append_canonical(std::string& out, double v) {
    const size_t start = out.size();
    append_shortest_number(out, v);
    if (out.find_first_of(".eIN", start) == std::string::npos)
        out += ".0";
}

// Writes one family like the text serializer does (text_format.cpp): each series' label block
// formatted once, le values once per family, exemplars looked up once per series and only
// when the table holds any.
class OmWriter {
  public:
    OmWriter(std::string& out, const ExemplarTable* ex)
        : out_(out), ex_(ex && !ex->empty() ? ex : nullptr) {}

    void family(const MetricFamily& f) {
        name_ = f.name;
        std::string_view type = "unknown";
        switch (f.type) {
        case MetricType::Counter:
            type = "counter";
            if (name_.ends_with("_total"))
                name_.resize(name_.size() - 6);
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
            break;
        }
        out_ += "# TYPE ";
        out_ += name_;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
        if (!f.help.empty()) {
            out_ += "# HELP ";
            out_ += name_;
            out_ += ' ';
            append_escaped(out_, f.help);
            out_ += '\n';
        }
        for (const auto& m : f.metric)
            series(f, m);
    }

  private:
    void series(const MetricFamily& f, const ClientMetric& m) {
        labels_.clear();
        for (const auto& l : m.label) {
            if (!labels_.empty())
                labels_ += ',';
            labels_ += l.name;
            labels_ += "=\"";
            append_escaped(labels_, l.value);
            labels_ += '"';
        }
        m_ = &m;
        switch (f.type) {
        case MetricType::Counter: {
            auto e = ex_ ? ex_->counter(f.name, m.label) : std::nullopt;
            line("_total", {}, m.counter.value, e ? &*e : nullptr);
            break;
        }
        case MetricType::Gauge:
            line({}, {}, m.gauge.value);
            break;
        case MetricType::Summary:
            for (const auto& q : m.summary.quantile) {
                extra_.assign("quantile=\"");
                append_canonical(extra_, q.quantile);
                extra_ += '"';
                line({}, extra_, q.value);
            }
            line("_sum", {}, m.summary.sample_sum);
            line("_count", {}, double(m.summary.sample_count));
            break;
        case MetricType::Histogram:
            histogram(f, m.histogram);
            break;
        default:
            line({}, {}, m.untyped.value);
        }
    }

    void histogram(const MetricFamily& f, const ClientMetric::Histogram& h) {
        const std::vector<Exemplar> ex =
            ex_ ? ex_->histogram(f.name, m_->label) : std::vector<Exemplar>{};
        double lower = -std::numeric_limits<double>::infinity();
        auto bucket = [&](double upper, std::string_view le, double count) {
            const Exemplar* e = nullptr; // the latest one in (lower, upper]
            for (auto it = ex.rbegin(); it != ex.rend() && !e; ++it)
                if (it->value > lower && it->value <= upper)
                    e = &*it;
            line("_bucket", le, count, e);
            lower = upper;
        };
        const auto& b = h.bucket;
        const auto& le = le_.of(b);
        for (size_t i = 0; i < b.size(); ++i)
            bucket(b[i].upper_bound, le[i], double(b[i].cumulative_count));
        if (b.empty() || !(std::isinf(b.back().upper_bound) && b.back().upper_bound > 0))
            bucket(std::numeric_limits<double>::infinity(), "le=\"+Inf\"",
                   double(h.sample_count)); // OpenMetrics requires it
        line("_count", {}, double(h.sample_count));
        line("_sum", {}, h.sample_sum);
    }

    void line(std::string_view suffix, std::string_view extra, double v,
              const Exemplar* e = nullptr) {
        append_series_head(out_, name_, suffix, labels_, extra);
        append_shortest_number(out_, v);
        if (m_->timestamp_ms != 0) {
            out_ += ' ';
            append_shortest_number(out_, double(m_->timestamp_ms) / 1000);
        }
        if (e && exemplar_fits(e->labels)) {
            out_ += " # {";
            for (size_t i = 0; i < e->labels.size(); ++i) {
                out_ += i ? "," : "";
                out_ += e->labels[i].first;
                out_ += "=\"";
                append_escaped(out_, e->labels[i].second);
                out_ += '"';
            }
            out_ += "} ";
            append_shortest_number(out_, e->value);
            if (e->timestamp_s) {
                out_ += ' ';
                append_shortest_number(out_, *e->timestamp_s);
            }
        }
        out_ += '\n';
    }

    std::string& out_;
    const ExemplarTable* ex_; // null when there are none to look up
    std::string name_;        // the family's name without a counter's _total
    std::string labels_, extra_;
    const ClientMetric* m_ = nullptr;
    BucketLabels le_{append_canonical};
};
} // namespace

std::string serialize_openmetrics(const std::vector<MetricFamily>& families,
                                  const ExemplarTable* ex) {
    std::string out;
    size_t lines = 0; // a rough size, so the body is not grown by doubling
    for (const auto& f : families)
        for (const auto& m : f.metric)
            lines += 1 + m.histogram.bucket.size() + 3 * !m.histogram.bucket.empty();
    out.reserve(lines * 96);
    OmWriter w(out, ex);
    for (const auto& f : families)
        w.family(f);
    out += "# EOF\n";
    return out;
}

} // namespace tif

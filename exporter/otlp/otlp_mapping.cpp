#include "otlp/otlp_mapping.h"

#include <cmath>

namespace tif {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_metrics = opentelemetry::proto::metrics::v1;

std::optional<std::string> hex_to_bytes(std::string_view hex, size_t n) {
    if (hex.size() != 2 * n)
        return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::nullopt;
        out[i] = char(hi << 4 | lo);
    }
    return out;
}

std::string otlp_unit(std::string_view name) {
    if (name.ends_with("_total"))
        name.remove_suffix(6);
    // UCUM, as OpenTelemetry's semantic conventions spell units.
    if (name.ends_with("_seconds"))
        return "s";
    if (name.ends_with("_bytes"))
        return "By";
    return "";
}

namespace {

void set_string(pb_common::KeyValue* kv, std::string_view k, std::string_view v) {
    kv->set_key(std::string(k));
    kv->mutable_value()->set_string_value(std::string(v));
}

template <typename Repeated> void add_attributes(Repeated* out, const ClientMetric& m) {
    for (const auto& l : m.label)
        set_string(out->Add(), l.name, l.value);
}

uint64_t seconds_to_ns(double s) {
    return s > 0 ? uint64_t(std::llround(s * 1e9)) : 0;
}

// trace_id and span_id become the exemplar's own byte fields (what OTLP backends link by);
// any other label, or an id that is not hex of the right length, stays an attribute.
void add_exemplar(pb_metrics::Exemplar* out, const Exemplar& e, uint64_t now_ns) {
    out->set_time_unix_nano(e.timestamp_s ? seconds_to_ns(*e.timestamp_s) : now_ns);
    out->set_as_double(e.value);
    for (const auto& [k, v] : e.labels) {
        if (k == "trace_id")
            if (auto b = hex_to_bytes(v, 16)) {
                out->set_trace_id(std::move(*b));
                continue;
            }
        if (k == "span_id")
            if (auto b = hex_to_bytes(v, 8)) {
                out->set_span_id(std::move(*b));
                continue;
            }
        set_string(out->add_filtered_attributes(), k, v);
    }
}

class Mapper {
  public:
    Mapper(const ExemplarTable* ex, uint64_t start_ns, uint64_t now_ns)
        : ex_(ex && !ex->empty() ? ex : nullptr), start_ns_(start_ns), now_ns_(now_ns) {}

    // False when the family's type has no mapping here.
    bool family(const MetricFamily& f, pb_metrics::Metric* out) {
        out->set_name(f.name);
        out->set_description(f.help);
        out->set_unit(otlp_unit(f.name));
        switch (f.type) {
        case MetricType::Counter: {
            auto* sum = out->mutable_sum();
            sum->set_is_monotonic(true);
            sum->set_aggregation_temporality(pb_metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
            for (const auto& m : f.metric) {
                auto* p = number_point(sum->add_data_points(), m, m.counter.value);
                p->set_start_time_unix_nano(start_ns_);
                if (auto e = ex_ ? ex_->counter(f.name, m.label) : std::nullopt)
                    add_exemplar(p->add_exemplars(), *e, now_ns_);
            }
            return true;
        }
        case MetricType::Gauge:
        case MetricType::Untyped: {
            auto* g = out->mutable_gauge();
            for (const auto& m : f.metric)
                number_point(g->add_data_points(), m,
                             f.type == MetricType::Gauge ? m.gauge.value : m.untyped.value);
            return true;
        }
        case MetricType::Histogram: {
            auto* h = out->mutable_histogram();
            h->set_aggregation_temporality(pb_metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
            for (const auto& m : f.metric)
                histogram_point(h->add_data_points(), f, m);
            return true;
        }
        default:
            return false;
        }
    }

    uint64_t data_points = 0;

  private:
    uint64_t point_time(const ClientMetric& m) const {
        return m.timestamp_ms > 0 ? uint64_t(m.timestamp_ms) * 1'000'000 : now_ns_;
    }

    pb_metrics::NumberDataPoint* number_point(pb_metrics::NumberDataPoint* p, const ClientMetric& m,
                                              double v) {
        ++data_points;
        add_attributes(p->mutable_attributes(), m);
        p->set_time_unix_nano(point_time(m));
        p->set_as_double(v);
        return p;
    }

    // Prometheus buckets are cumulative and end in +Inf; OTLP's are per bucket, with one count
    // more than bounds (the last bucket is above the last bound).
    void histogram_point(pb_metrics::HistogramDataPoint* p, const MetricFamily& f,
                         const ClientMetric& m) {
        ++data_points;
        const auto& h = m.histogram;
        add_attributes(p->mutable_attributes(), m);
        p->set_start_time_unix_nano(start_ns_);
        p->set_time_unix_nano(point_time(m));
        p->set_count(h.sample_count);
        p->set_sum(h.sample_sum);
        uint64_t below = 0;
        for (const auto& b : h.bucket) {
            if (std::isinf(b.upper_bound) && b.upper_bound > 0)
                break; // the +Inf bucket: the last count, added below
            p->add_explicit_bounds(b.upper_bound);
            // max(): a count read while a kernel CPU slot is updated must never go negative.
            const uint64_t c = std::max(b.cumulative_count, below);
            p->add_bucket_counts(c - below);
            below = c;
        }
        p->add_bucket_counts(h.sample_count > below ? h.sample_count - below : 0);
        if (ex_)
            for (const auto& e : ex_->histogram(f.name, m.label))
                add_exemplar(p->add_exemplars(), e, now_ns_);
    }

    const ExemplarTable* ex_;
    uint64_t start_ns_, now_ns_;
};

} // namespace

void otlp_fill_resource(otlp_pb::resource::v1::Resource* out, const OtlpResourceInfo& info) {
    auto* attrs = out->mutable_attributes();
    set_string(attrs->Add(), "service.name", info.service_name);
    if (!info.service_version.empty())
        set_string(attrs->Add(), "service.version", info.service_version);
    if (!info.host_name.empty())
        set_string(attrs->Add(), "host.name", info.host_name);
}

void otlp_fill_scope(otlp_pb::common::v1::InstrumentationScope* out, const OtlpResourceInfo& info) {
    out->set_name("traceiface");
    out->set_version(info.service_version);
}

otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest
to_otlp_request(const std::vector<MetricFamily>& families, const ExemplarTable* ex,
                const OtlpResourceInfo& resource, uint64_t start_ns, uint64_t now_ns,
                OtlpMappingStats* stats) {
    otlp_pb::collector::metrics::v1::ExportMetricsServiceRequest req;
    auto* rm = req.add_resource_metrics();
    otlp_fill_resource(rm->mutable_resource(), resource);
    auto* sm = rm->add_scope_metrics();
    otlp_fill_scope(sm->mutable_scope(), resource);

    Mapper mapper(ex, start_ns, now_ns);
    uint64_t skipped = 0;
    for (const auto& f : families) {
        if (f.metric.empty()) // nothing to say; receivers may refuse a metric without points
            continue;
        auto* metric = sm->add_metrics();
        if (!mapper.family(f, metric)) {
            sm->mutable_metrics()->RemoveLast();
            ++skipped;
        }
    }
    if (stats)
        *stats = {mapper.data_points, skipped};
    return req;
}

} // namespace tif

#include "metrics_registry.h"

#include <chrono>

#include "log/log.h"
#include "text_format.h"

namespace tif {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily make_family(std::string name, std::string help, MetricType type) {
    MetricFamily f;
    f.name = std::move(name);
    f.help = std::move(help);
    f.type = type;
    return f;
}

ClientMetric& add_sample(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
    ClientMetric m;
    m.label = std::move(labels);
    switch (f.type) {
    case MetricType::Counter:
        m.counter.value = value;
        break;
    case MetricType::Gauge:
        m.gauge.value = value;
        break;
    default:
        m.untyped.value = value;
        break;
    }
    f.metric.push_back(std::move(m));
    return f.metric.back();
}

void MetricsRegistry::add(std::unique_ptr<Collector> c) {
    std::lock_guard lk(mu_);
    collectors_.push_back(std::move(c));
}

std::vector<MetricFamily> MetricsRegistry::Collect() const {
    std::lock_guard lk(mu_);
    std::vector<MetricFamily> out;
    auto duration =
        make_family("traceiface_scrape_collector_duration_seconds",
                    "Time a collector took to read its data for this scrape.", MetricType::Gauge);
    auto success = make_family("traceiface_scrape_collector_success",
                               "Whether a collector succeeded in this scrape (1) or not (0).",
                               MetricType::Gauge);
    for (const auto& c : collectors_) {
        auto t0 = std::chrono::steady_clock::now();
        Status st = c->collect(out);
        std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
        std::string name(c->name());
        add_sample(duration, {{"collector", name}}, dt.count());
        add_sample(success, {{"collector", name}}, st ? 1 : 0);
        if (!st)
            Log::msg(Level::warn, "collector failed",
                     Fields{{"collector", name}, {"error", st.error().message()}});
    }
    out.push_back(std::move(duration));
    out.push_back(std::move(success));
    return out;
}

std::string MetricsRegistry::render_text() const {
    return serialize_text(Collect());
}

std::string MetricsRegistry::render_openmetrics() const {
    return serialize_openmetrics(Collect(), &exemplars_);
}

} // namespace tif

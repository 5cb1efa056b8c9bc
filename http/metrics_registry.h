// Collectors registered by name, run at scrape time (they read BPF maps then and there), each
// with its own success and duration self-metric, node_exporter style.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "openmetrics.h"

namespace tif {

class Collector {
  public:
    virtual ~Collector() = default;
    virtual std::string_view name() const = 0;
    // Appends this collector's families; an error marks the collector failed for this scrape
    // but keeps whatever it appended and never stops the other collectors.
    virtual Status collect(std::vector<prometheus::MetricFamily>& out) = 0;
};

class MetricsRegistry : public prometheus::Collectable {
  public:
    void add(std::unique_ptr<Collector> c);
    std::vector<prometheus::MetricFamily> Collect() const override;
    std::string render_text() const;        // Prometheus text format 0.0.4
    std::string render_openmetrics() const; // OpenMetrics 1.0, with the exemplars below
    // Exemplars (trace ids) for the OpenMetrics exposition, filled by the event handlers.
    ExemplarTable& exemplars() { return exemplars_; }

  private:
    mutable std::mutex mu_; // scrapes may overlap; collectors are run one scrape at a time
    std::vector<std::unique_ptr<Collector>> collectors_;
    ExemplarTable exemplars_;
};

// Small builders for the families collectors emit.
prometheus::MetricFamily make_family(std::string name, std::string help,
                                     prometheus::MetricType type);
prometheus::ClientMetric& add_sample(prometheus::MetricFamily& f,
                                     std::vector<prometheus::ClientMetric::Label> labels,
                                     double value);

} // namespace tif

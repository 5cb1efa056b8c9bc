// OpenMetrics 1.0 text exposition of prometheus::MetricFamily, with exemplars, which
// prometheus-cpp's serializers lack. Exemplars live in a side-table keyed by family and label
// set: counters carry the latest exemplar of a series; histogram buckets each carry the
// latest exemplar whose value falls into that bucket.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tif {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

struct Exemplar {
    LabelPairs labels; // e.g. {{"trace_id", "4bf9..."}}; names + values <= 128 characters
    double value = 0;
    std::optional<double> timestamp_s; // Unix time in seconds
};

// OpenMetrics caps an exemplar's label set at 128 UTF-8 characters (names and values).
inline constexpr size_t EXEMPLAR_MAX_LABEL_CHARS = 128;
bool exemplar_fits(const LabelPairs& labels);

class ExemplarTable {
  public:
    static constexpr size_t PER_HISTOGRAM_SERIES = 16;

    // The exemplar of a counter series (replaces the previous one).
    void set_counter(const std::string& family, const LabelPairs& series, Exemplar e);
    // One more exemplar of a histogram series; the serializer puts it on its bucket.
    void add_histogram(const std::string& family, const LabelPairs& series, Exemplar e);

    std::optional<Exemplar> counter(const std::string& family,
                                    const std::vector<prometheus::ClientMetric::Label>& l) const;
    bool empty() const;
    // Drops every exemplar of a series with label name=value (a vanished interface's).
    void forget_label(const std::string& name, const std::string& value);
    // A histogram series' exemplars, oldest first (the serializer picks one per bucket).
    std::vector<Exemplar> histogram(const std::string& family,
                                    const std::vector<prometheus::ClientMetric::Label>& l) const;
    // The latest exemplar with lower < value <= upper.
    std::optional<Exemplar> bucket(const std::string& family,
                                   const std::vector<prometheus::ClientMetric::Label>& l,
                                   double lower, double upper) const;

  private:
    static std::string key(const std::string& family, LabelPairs series);
    mutable std::mutex mu_;
    std::map<std::string, Exemplar> counters_;
    std::map<std::string, std::deque<Exemplar>> histograms_;
};

// Content negotiation: true when the Accept header prefers application/openmetrics-text over
// the classic text format (q-values honoured; absent or "*/*" alone means classic).
bool accepts_openmetrics(std::string_view accept);

inline constexpr const char* OPENMETRICS_CONTENT_TYPE =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

// The whole exposition, ending in "# EOF\n". `ex` may be null.
std::string serialize_openmetrics(const std::vector<prometheus::MetricFamily>& families,
                                  const ExemplarTable* ex);

// Pieces, exposed for the tests.
std::string om_escape(std::string_view s); // \\, \" and \n
std::string om_number(double v);           // shortest round-trip; +Inf, -Inf, NaN

} // namespace tif

// Pieces shared by the two text expositions (Prometheus text 0.0.4 and OpenMetrics 1.0): label
// and HELP escaping and number formatting, all appending to one output string so a scrape of
// thousands of series builds its body without a temporary string per sample.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/client_metric.h>

namespace tif {

// Label values (both formats) and OpenMetrics HELP: \ -> \\, " -> \", newline -> \n.
void append_escaped(std::string& out, std::string_view s);
// HELP in the text format 0.0.4, which escapes only \ and newline (a quote stays as it is).
void append_escaped_help(std::string& out, std::string_view s);

void append_uint(std::string& out, uint64_t v);
void append_int(std::string& out, int64_t v);

// A sample value or le/quantile in the text format 0.0.4: what prometheus-cpp's
// TextSerializer writes (printf "%.16g"), except that a value 16 significant digits cannot
// carry exactly gets 17 (prometheus-cpp rounds it, e.g. 0.30000000000000004 -> 0.3, and
// DBL_MAX -> 1.797693134862316e+308, which no longer parses), and NaN is spelled "NaN" (the
// format's spelling; prometheus-cpp writes "Nan", which Go's ParseFloat also accepts).
void append_text_number(std::string& out, double v);

// Shortest round-trip form (std::to_chars), for OpenMetrics; +Inf, -Inf, NaN.
void append_shortest_number(std::string& out, double v);

// The start of a sample line, the same in both formats: name + suffix, {labels[,extra]} when
// there are any, and the space before the value. labels: the series' own, already escaped.
void append_series_head(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view labels, std::string_view extra);

// The le="..." label of each bucket of a histogram, formatted once and reused while the
// bounds stay the same: every series of a family has the same ones.
class BucketLabels {
  public:
    using Format = void (*)(std::string& out, double v); // how the format writes an le value
    explicit BucketLabels(Format format) : format_(format) {}
    const std::vector<std::string>& of(const std::vector<prometheus::ClientMetric::Bucket>& b);

  private:
    Format format_;
    std::vector<double> bounds_; // le_ was formatted from these
    std::vector<std::string> le_;
};

} // namespace tif

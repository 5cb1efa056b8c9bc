#include "otlp/otlp_exporter.h"

#include <unistd.h>

#include "log/clock.h"
#include "log/log.h"
#include "otlp/otlp_http.h"
#include "version.h"

namespace tif {

namespace {
constexpr auto PUSH_TIMEOUT = std::chrono::seconds(10);
constexpr auto LAST_PUSH_TIMEOUT = std::chrono::seconds(2); // exit must stay quick
} // namespace

OtlpResourceInfo otlp_resource_of_this_host() {
    OtlpResourceInfo r;
    r.service_version = TRACEIFACE_VERSION;
    char host[256] = {};
    if (::gethostname(host, sizeof(host) - 1) == 0)
        r.host_name = host;
    return r;
}

OtlpExporter::OtlpExporter(MetricsRegistry& registry, Options o)
    : registry_(registry), resource_(std::move(o.resource)), start_ns_(o.start_ns),
      cfg_(std::move(o.otlp)) {}

Result<std::unique_ptr<OtlpExporter>> OtlpExporter::start(MetricsRegistry& registry, Options o) {
    if (!o.otlp.endpoint.empty())
        if (auto t = parse_otlp_endpoint(o.otlp.endpoint); !t)
            return t.error();
    std::unique_ptr<OtlpExporter> e(new OtlpExporter(registry, std::move(o)));
    e->thread_ = std::thread([raw = e.get()] { raw->run(); });
    return e;
}

OtlpExporter::~OtlpExporter() {
    stop();
}

Status OtlpExporter::set(const OtlpOptions& o) {
    if (!o.endpoint.empty())
        if (auto t = parse_otlp_endpoint(o.endpoint); !t)
            return t.error();
    {
        std::lock_guard lk(mu_);
        if (o.endpoint == cfg_.endpoint && o.interval_ns == cfg_.interval_ns &&
            o.headers == cfg_.headers)
            return Ok{};
        cfg_ = o;
        changed_ = true;
    }
    cv_.notify_one();
    Log::msg(Level::info, "OTLP push reconfigured",
             Fields{{"endpoint", o.endpoint}, {"interval_s", double(o.interval_ns) / 1e9}});
    return Ok{};
}

void OtlpExporter::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable())
        thread_.join();
}

OtlpExporter::Counters OtlpExporter::counters() const {
    std::lock_guard lk(mu_);
    return counters_;
}

void OtlpExporter::run() {
    using clock = std::chrono::steady_clock;
    std::unique_lock lk(mu_);
    auto next = clock::now() + std::chrono::nanoseconds(cfg_.interval_ns);
    for (;;) {
        cv_.wait_until(lk, next, [&] { return stopping_ || changed_; });
        if (stopping_)
            break;
        const auto interval = std::chrono::nanoseconds(cfg_.interval_ns);
        if (changed_) { // a new interval counts from the reload
            changed_ = false;
            next = clock::now() + interval;
            continue;
        }
        // On a fixed grid, so a slow push does not drift the schedule; a push that took more
        // than an interval skips the ticks it missed instead of sending a burst.
        next += interval;
        if (next <= clock::now())
            next = clock::now() + interval;
        if (cfg_.endpoint.empty())
            continue;
        const OtlpOptions cfg = cfg_;
        lk.unlock();
        push(cfg, PUSH_TIMEOUT);
        lk.lock();
    }
    const OtlpOptions cfg = cfg_;
    // Not when the last push failed: the receiver is most likely still away, and exit would
    // only wait for the timeout.
    const bool receiver_up = failures_.in_a_row == 0;
    lk.unlock();
    if (!cfg.endpoint.empty() && receiver_up)
        push(cfg, LAST_PUSH_TIMEOUT); // what changed since the last tick
}

void OtlpExporter::push(const OtlpOptions& cfg, std::chrono::seconds timeout) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto families = registry_.Collect();
    OtlpMappingStats stats;
    const auto req = to_otlp_request(families, &registry_.exemplars(), resource_, start_ns_,
                                     uint64_t(realtime_now_ns()), &stats);
    const auto res = otlp_post(cfg, OTLP_METRICS_PATH, req.SerializeAsString(), timeout);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - t0;
    if (!res.ok) {
        {
            std::lock_guard lk(mu_);
            counters_.last_duration_s = took.count();
        }
        return note_failure(cfg.endpoint, res.why);
    }
    // A 2xx may still refuse part of the points (OTLP "partial success").
    int64_t rejected = 0;
    std::string rejected_why;
    otlp_pb::collector::metrics::v1::ExportMetricsServiceResponse answer;
    if (!res.answer.empty() && answer.ParseFromString(res.answer) && answer.has_partial_success()) {
        rejected = answer.partial_success().rejected_data_points();
        rejected_why = answer.partial_success().error_message();
    }
    bool recovered = false;
    {
        std::lock_guard lk(mu_);
        ++counters_.ok;
        counters_.points += stats.data_points;
        counters_.rejected += uint64_t(std::max<int64_t>(rejected, 0));
        counters_.last_success_s = double(realtime_now_ns()) / 1e9;
        counters_.last_duration_s = took.count();
        recovered = failures_.succeeded();
    }
    if (recovered)
        Log::msg(Level::info, "OTLP push succeeded again", Fields{{"endpoint", cfg.endpoint}});
    if (rejected > 0 || !rejected_why.empty())
        Log::msg(Level::warn, "OTLP receiver refused part of the points",
                 Fields{{"endpoint", cfg.endpoint},
                        {"rejected_data_points", rejected},
                        {"error", rejected_why}});
}

void OtlpExporter::note_failure(const std::string& endpoint, const std::string& why) {
    uint64_t in_a_row = 0;
    bool log = false;
    {
        std::lock_guard lk(mu_);
        ++counters_.failed;
        log = failures_.failed();
        in_a_row = failures_.in_a_row;
    }
    if (log)
        Log::msg(Level::warn, "OTLP push failed; the next push sends the full state again",
                 Fields{{"endpoint", endpoint}, {"error", why}, {"failures_in_a_row", in_a_row}});
}

std::unique_ptr<Collector> OtlpExporter::collector() const {
    struct C : Collector {
        const OtlpExporter& e;
        explicit C(const OtlpExporter& e) : e(e) {}
        std::string_view name() const override { return "otlp_push"; }
        Status collect(std::vector<prometheus::MetricFamily>& out) override {
            using prometheus::MetricType;
            const auto c = e.counters();
            auto exports = make_family("traceiface_otlp_exports_total",
                                       "OTLP metric pushes, by outcome (error: no answer or a "
                                       "non-2xx status).",
                                       MetricType::Counter);
            add_sample(exports, {{"result", "ok"}}, double(c.ok));
            add_sample(exports, {{"result", "error"}}, double(c.failed));
            out.push_back(std::move(exports));
            const std::tuple<const char*, const char*, MetricType, double> rows[] = {
                {"traceiface_otlp_data_points_exported_total",
                 "Data points in OTLP pushes the receiver accepted.", MetricType::Counter,
                 double(c.points)},
                {"traceiface_otlp_data_points_rejected_total",
                 "Data points an OTLP receiver refused in an accepted push (partial success).",
                 MetricType::Counter, double(c.rejected)},
                {"traceiface_otlp_last_export_timestamp_seconds",
                 "When an OTLP push last succeeded (Unix time; 0 = never).", MetricType::Gauge,
                 c.last_success_s},
                {"traceiface_otlp_last_export_duration_seconds",
                 "How long the last OTLP push took (collect, encode, POST).", MetricType::Gauge,
                 c.last_duration_s}};
            for (const auto& [name, help, type, v] : rows) {
                auto f = make_family(name, help, type);
                add_sample(f, {}, v);
                out.push_back(std::move(f));
            }
            return Ok{};
        }
    };
    return std::make_unique<C>(*this);
}

} // namespace tif

#include "otlp/otlp_log_exporter.h"

#include <algorithm>

#include "core/capabilities.h"
#include "log/clock.h"

namespace tif {

namespace {
constexpr auto SEND_TIMEOUT = std::chrono::seconds(10);
constexpr auto LAST_SEND_TIMEOUT = std::chrono::seconds(2); // exit must stay quick
} // namespace

OtlpLogExporter::OtlpLogExporter(Options o)
    : resource_(std::move(o.resource)), max_queued_(std::max<size_t>(o.max_queued, 1)),
      batch_records_(std::clamp<size_t>(o.batch_records, 1, max_queued_)), cfg_(std::move(o.otlp)) {
}

Result<std::unique_ptr<OtlpLogExporter>> OtlpLogExporter::start(Options o) {
    if (!o.otlp.endpoint.empty())
        if (auto t = parse_otlp_endpoint(o.otlp.endpoint, OTLP_LOGS_PATH); !t)
            return t.error();
    std::unique_ptr<OtlpLogExporter> e(new OtlpLogExporter(std::move(o)));
    // It only talks HTTP: it keeps no capability (capabilities.h), unlike the metrics push,
    // which reads BPF maps.
    e->thread_ = std::thread([raw = e.get()] {
        drop_thread_caps();
        raw->run();
    });
    return e;
}

OtlpLogExporter::~OtlpLogExporter() {
    stop();
}

void OtlpLogExporter::push(const Fields& line) {
    const uint64_t observed = uint64_t(realtime_now_ns());
    std::lock_guard lk(mu_);
    if (stopping_ || !wanted(cfg_))
        return;
    if (queue_.size() >= max_queued_) {
        ++counters_.queue_full;
        return;
    }
    queue_.push_back({line, observed});
    if (queue_.size() % batch_records_ == 0)
        cv_.notify_one();
}

Status OtlpLogExporter::set(const OtlpOptions& o) {
    if (!o.endpoint.empty())
        if (auto t = parse_otlp_endpoint(o.endpoint, OTLP_LOGS_PATH); !t)
            return t.error();
    {
        std::lock_guard lk(mu_);
        if (o.endpoint == cfg_.endpoint && o.interval_ns == cfg_.interval_ns &&
            o.headers == cfg_.headers && o.logs == cfg_.logs)
            return Ok{};
        if (wanted(cfg_) && !wanted(o))
            drain_cfg_ = cfg_;
        else if (wanted(o))
            drain_cfg_.reset();
        cfg_ = o;
        changed_ = true;
    }
    cv_.notify_one();
    Log::msg(Level::info, wanted(o) ? "OTLP log export reconfigured" : "OTLP log export off",
             Fields{{"endpoint", o.endpoint}, {"interval_s", double(o.interval_ns) / 1e9}});
    return Ok{};
}

void OtlpLogExporter::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable())
        thread_.join();
}

OtlpLogExporter::Counters OtlpLogExporter::counters() const {
    std::lock_guard lk(mu_);
    Counters c = counters_;
    c.queued = queue_.size();
    return c;
}

std::vector<OtlpLogLine> OtlpLogExporter::take_batch() {
    const size_t n = std::min(queue_.size(), batch_records_);
    std::vector<OtlpLogLine> batch(std::make_move_iterator(queue_.begin()),
                                   std::make_move_iterator(queue_.begin() + ptrdiff_t(n)));
    queue_.erase(queue_.begin(), queue_.begin() + ptrdiff_t(n));
    return batch;
}

void OtlpLogExporter::run() {
    using clock = std::chrono::steady_clock;
    std::unique_lock lk(mu_);
    auto next = clock::now() + std::chrono::nanoseconds(cfg_.interval_ns);
    // Sends batches while `more` says so; the lock is let go during each request.
    const auto send_while = [&](auto more, const OtlpOptions& cfg, std::chrono::seconds timeout) {
        while (!queue_.empty() && more()) {
            auto batch = take_batch();
            lk.unlock();
            send(cfg, batch, timeout);
            lk.lock();
        }
    };
    for (;;) {
        cv_.wait_until(lk, next, [&] {
            return stopping_ || changed_ || (wanted(cfg_) && queue_.size() >= batch_records_);
        });
        if (stopping_)
            break;
        const auto now = clock::now();
        const auto interval = std::chrono::nanoseconds(cfg_.interval_ns);
        if (changed_) { // a new interval counts from the reload
            changed_ = false;
            next = now + interval;
            if (drain_cfg_) { // turned off: what was queued still goes where it was headed
                const OtlpOptions cfg = *drain_cfg_;
                drain_cfg_.reset();
                send_while([&] { return !stopping_; }, cfg, SEND_TIMEOUT);
            }
            continue;
        }
        const bool tick = now >= next;
        if (tick) { // on a fixed grid; ticks missed during a slow request are skipped
            next += interval;
            if (next <= now)
                next = now + interval;
        }
        if (!wanted(cfg_))
            continue;
        const OtlpOptions cfg = cfg_;
        // At a tick everything queued; between ticks only full batches.
        send_while(
            [&] { return !stopping_ && !changed_ && (tick || queue_.size() >= batch_records_); },
            cfg, SEND_TIMEOUT);
    }
    const std::optional<OtlpOptions> cfg = wanted(cfg_) ? std::optional(cfg_) : drain_cfg_;
    // Not when the last request failed: the receiver is most likely still away, and exit
    // would only wait for the timeout.
    if (cfg) {
        while (!queue_.empty() && failures_.in_a_row == 0) { // one failure ends it
            auto batch = take_batch();
            lk.unlock();
            send(*cfg, batch, LAST_SEND_TIMEOUT);
            lk.lock();
        }
    }
    counters_.shutdown += queue_.size();
    queue_.clear();
}

void OtlpLogExporter::send(const OtlpOptions& cfg, const std::vector<OtlpLogLine>& batch,
                           std::chrono::seconds timeout) {
    const uint64_t n = batch.size();
    const auto res = otlp_post(cfg, OTLP_LOGS_PATH,
                               to_otlp_logs_request(batch, resource_).SerializeAsString(), timeout);
    if (!res.ok) {
        bool log = false;
        uint64_t in_a_row = 0;
        {
            std::lock_guard lk(mu_);
            ++counters_.requests_failed;
            counters_.export_failed += n;
            log = failures_.failed();
            in_a_row = failures_.in_a_row;
        }
        if (log)
            Log::msg(Level::warn, "OTLP log export failed; its records are dropped",
                     Fields{{"endpoint", cfg.endpoint},
                            {"error", res.why},
                            {"records", n},
                            {"failures_in_a_row", in_a_row}});
        return;
    }
    // A 2xx may still refuse part of the records (OTLP "partial success").
    int64_t rejected = 0;
    std::string rejected_why;
    otlp_pb::collector::logs::v1::ExportLogsServiceResponse answer;
    if (!res.answer.empty() && answer.ParseFromString(res.answer) && answer.has_partial_success()) {
        rejected =
            std::clamp<int64_t>(answer.partial_success().rejected_log_records(), 0, int64_t(n));
        rejected_why = answer.partial_success().error_message();
    }
    bool recovered = false;
    {
        std::lock_guard lk(mu_);
        ++counters_.requests_ok;
        counters_.exported += n - uint64_t(rejected);
        counters_.rejected += uint64_t(rejected);
        recovered = failures_.succeeded();
    }
    if (recovered)
        Log::msg(Level::info, "OTLP log export succeeded again",
                 Fields{{"endpoint", cfg.endpoint}});
    if (rejected > 0 || !rejected_why.empty())
        Log::msg(Level::warn, "OTLP receiver refused part of the log records",
                 Fields{{"endpoint", cfg.endpoint},
                        {"rejected_log_records", rejected},
                        {"error", rejected_why}});
}

std::unique_ptr<Collector> OtlpLogExporter::collector() const {
    struct C : Collector {
        const OtlpLogExporter& e;
        explicit C(const OtlpLogExporter& e) : e(e) {}
        std::string_view name() const override { return "otlp_logs"; }
        Status collect(std::vector<prometheus::MetricFamily>& out) override {
            using prometheus::MetricType;
            const auto c = e.counters();
            auto exported = make_family("traceiface_otlp_log_records_exported_total",
                                        "Event lines an OTLP receiver accepted as log records.",
                                        MetricType::Counter);
            add_sample(exported, {}, double(c.exported));
            out.push_back(std::move(exported));
            auto dropped =
                make_family("traceiface_otlp_log_records_dropped_total",
                            "Event lines not exported as OTLP log records, by reason (queue_full, "
                            "export_failed, rejected by the receiver, shutdown).",
                            MetricType::Counter);
            for (const auto& [reason, n] : {std::pair{"queue_full", c.queue_full},
                                            {"export_failed", c.export_failed},
                                            {"rejected", c.rejected},
                                            {"shutdown", c.shutdown}})
                add_sample(dropped, {{"reason", reason}}, double(n));
            out.push_back(std::move(dropped));
            auto requests = make_family("traceiface_otlp_log_exports_total",
                                        "OTLP log requests, by outcome (error: no answer or a "
                                        "non-2xx status).",
                                        MetricType::Counter);
            add_sample(requests, {{"result", "ok"}}, double(c.requests_ok));
            add_sample(requests, {{"result", "error"}}, double(c.requests_failed));
            out.push_back(std::move(requests));
            auto queued = make_family("traceiface_otlp_log_queue_length",
                                      "Event lines waiting to be sent as OTLP log records.",
                                      MetricType::Gauge);
            add_sample(queued, {}, double(c.queued));
            out.push_back(std::move(queued));
            return Ok{};
        }
    };
    return std::make_unique<C>(*this);
}

} // namespace tif

#include "log/loki_push.h"

#include <httplib.h>

#include <ctime>

#include "core/capabilities.h"
#include "log/clock.h"

namespace tif {

LokiEntry loki_entry(const Fields& line) {
    LokiEntry e;
    if (auto it = line.find("iface"); it != line.end() && it->is_string())
        e.iface = it->get<std::string>();
    if (auto it = line.find("ts"); it != line.end() && it->is_string())
        e.ts_ns = parse_rfc3339_ns(it->get<std::string>());
    for (const char* k : {"trace_id", "span_id"})
        if (auto it = line.find(k); it != line.end() && it->is_string())
            e.metadata[k] = it->get<std::string>();
    e.line = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return e;
}

std::string loki_push_body(const std::vector<LokiEntry>& entries, const std::string& job) {
    std::map<std::string, nlohmann::json> streams; // by iface
    for (const auto& e : entries) {
        auto& s = streams[e.iface];
        if (s.is_null()) {
            s["stream"] = {{"job", job}};
            if (!e.iface.empty())
                s["stream"]["iface"] = e.iface;
            s["values"] = nlohmann::json::array();
        }
        nlohmann::json v = nlohmann::json::array({std::to_string(e.ts_ns), e.line});
        if (!e.metadata.empty())
            v.push_back(e.metadata);
        s["values"].push_back(std::move(v));
    }
    nlohmann::json body = {{"streams", nlohmann::json::array()}};
    for (auto& [iface, s] : streams)
        body["streams"].push_back(std::move(s));
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<LokiTarget> parse_loki_url(std::string_view url) {
    const auto bad = [&] {
        return Error{EINVAL, "--loki.url: expected http://HOST:PORT/PATH such as "
                             "http://127.0.0.1:3100/loki/api/v1/push: \"" +
                                 std::string(url) + "\""};
    };
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos ||
        (url.substr(0, scheme) != "http" && url.substr(0, scheme) != "https"))
        return bad();
    auto slash = url.find('/', scheme + 3);
    if (slash == scheme + 3)
        return bad();
    LokiTarget t{std::string(url.substr(0, slash)), slash == std::string_view::npos
                                                        ? "/loki/api/v1/push"
                                                        : std::string(url.substr(slash))};
    return t;
}

LokiPusher::LokiPusher(Options o, LokiTarget t) : opt_(std::move(o)), target_(std::move(t)) {}

Result<std::unique_ptr<LokiPusher>> LokiPusher::start(Options o) {
    auto t = parse_loki_url(o.url);
    if (!t)
        return t.error();
    std::unique_ptr<LokiPusher> p(new LokiPusher(std::move(o), std::move(*t)));
    // The pusher only talks HTTP: it keeps no capability (capabilities.h).
    p->thread_ = std::thread([raw = p.get()] {
        drop_thread_caps();
        raw->run();
    });
    return p;
}

LokiPusher::~LokiPusher() {
    stop();
}

void LokiPusher::push(LokiEntry e) {
    std::lock_guard lk(mu_);
    if (stopping_)
        return;
    if (queue_.size() >= opt_.max_buffered) {
        queue_.pop_front();
        ++counters_.dropped;
    }
    queue_.push_back(std::move(e));
    if (queue_.size() >= opt_.batch_lines)
        cv_.notify_one();
}

void LokiPusher::stop() {
    {
        std::lock_guard lk(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable())
        thread_.join();
}

LokiPusher::Counters LokiPusher::counters() const {
    std::lock_guard lk(mu_);
    return counters_;
}

bool LokiPusher::send(const std::vector<LokiEntry>& batch, bool& retry) {
    httplib::Client cli(target_.scheme_host_port);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(10, 0);
    cli.set_write_timeout(10, 0);
    auto res = cli.Post(target_.path, loki_push_body(batch, opt_.job), "application/json");
    if (res && res->status / 100 == 2)
        return true;
    // No answer, 429 and 5xx may pass later; any other answer will not.
    retry = !res || res->status == 429 || res->status >= 500;
    return false;
}

void LokiPusher::run() {
    auto backoff = opt_.min_backoff;
    std::vector<LokiEntry> batch;
    std::unique_lock lk(mu_);
    for (;;) {
        cv_.wait_for(lk, opt_.flush_interval,
                     [&] { return stopping_ || queue_.size() >= opt_.batch_lines; });
        if (batch.empty()) {
            while (!queue_.empty() && batch.size() < opt_.batch_lines) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        if (batch.empty()) {
            if (stopping_)
                return;
            continue;
        }
        const bool last = stopping_;
        lk.unlock();
        bool retry = false;
        const bool ok = send(batch, retry);
        lk.lock();
        if (ok) {
            counters_.sent += batch.size();
            batch.clear();
            backoff = opt_.min_backoff;
            if (!queue_.empty() && !last)
                continue; // more waiting: the loop's wait returns at once when a batch is full
        } else {
            ++counters_.failures;
            if (last) { // no time left for retries: count the rest as dropped
                counters_.dropped += batch.size() + queue_.size();
                batch.clear();
                queue_.clear();
            } else if (!retry) { // refused: it would be refused again
                counters_.dropped += batch.size();
                batch.clear();
            } else {
                cv_.wait_for(lk, backoff, [&] { return stopping_; });
                backoff = std::min(backoff * 2, opt_.max_backoff);
            }
        }
        if (last && queue_.empty() && batch.empty())
            return;
    }
}

std::unique_ptr<Collector> LokiPusher::collector() const {
    struct C : Collector {
        const LokiPusher& p;
        explicit C(const LokiPusher& p) : p(p) {}
        std::string_view name() const override { return "loki_push"; }
        Status collect(std::vector<prometheus::MetricFamily>& out) override {
            auto c = p.counters();
            const std::pair<const char*, uint64_t> rows[] = {
                {"traceiface_loki_lines_sent_total", c.sent},
                {"traceiface_loki_lines_dropped_total", c.dropped},
                {"traceiface_loki_push_failures_total", c.failures}};
            const char* help[] = {"Log lines Loki accepted.",
                                  "Log lines given up on (buffer full, refused, or at exit).",
                                  "Push requests that failed (each retry counts)."};
            for (size_t i = 0; i < 3; ++i) {
                auto f = make_family(rows[i].first, help[i], prometheus::MetricType::Counter);
                add_sample(f, {}, double(rows[i].second));
                out.push_back(std::move(f));
            }
            return Ok{};
        }
    };
    return std::make_unique<C>(*this);
}

} // namespace tif

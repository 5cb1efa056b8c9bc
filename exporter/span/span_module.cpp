// Module "span_socket": the span-binding table shared with the probes (created first, so every
// probe loads with it) and the span-context server that fills it.
#include "log/log.h"
#include "module.h"
#include "span/span_server.h"

namespace tif {

Status SpanCollector::collect(std::vector<prometheus::MetricFamily>& out) {
    if (counters_) {
        auto frames = make_family("traceiface_span_frames_total",
                                  "Frames received on the span-context socket, by result; a "
                                  "refused connection counts once (unauthorized, rate_limited).",
                                  prometheus::MetricType::Counter);
        for (size_t i = 0; i < SPAN_RESULTS; ++i)
            add_sample(frames, {{"result", std::string(span_result_name(SpanResult(i)))}},
                       double(counters_->frames[i].load(std::memory_order_relaxed)));
        out.push_back(std::move(frames));
        auto clients =
            make_family("traceiface_span_clients", "Clients connected to the span-context socket.",
                        prometheus::MetricType::Gauge);
        add_sample(clients, {}, double(counters_->clients.load(std::memory_order_relaxed)));
        out.push_back(std::move(clients));
    }
    auto live = table_->count_live();
    auto bindings = make_family("traceiface_span_bindings",
                                "Live (unexpired) trace-context bindings of TCP sockets.",
                                prometheus::MetricType::Gauge);
    if (live)
        add_sample(bindings, {}, double(*live));
    out.push_back(std::move(bindings));
    return live ? Status(Ok{}) : Status(live.error());
}

Status start_span_module(DaemonContext& ctx) {
    const SpanOptions& opt = ctx.opt.span;
    auto table = SpanTable::create(opt.max_bindings);
    if (!table)
        return table.error();
    auto shared = std::make_shared<SpanTable>(std::move(*table));
    ctx.span_maps = shared->fds();
    ctx.keep_alive.push_back(shared);
    if (opt.socket_path.empty()) {
        Log::msg(Level::info, "span socket disabled (--span.socket=\"\")");
        ctx.registry.add(std::make_unique<SpanCollector>(nullptr, shared));
        return Ok{};
    }
    auto server = SpanServer::start(ctx.io, opt, shared);
    if (!server)
        return server.error();
    std::shared_ptr<SpanServer> s = std::move(*server);
    ctx.registry.add(std::make_unique<SpanCollector>(&s->counters(), shared));
    ctx.on_stop.push_back([s] { s->stop(); });
    // Reload: the allow-list applies at once; the other span.* options need a restart.
    ctx.on_reload.push_back([s](const Options& o) -> Status {
        s->set_allow_list(o.span.allow_uids, o.span.allow_gids);
        return Ok{};
    });
    ctx.keep_alive.push_back(s);
    return Ok{};
}

} // namespace tif

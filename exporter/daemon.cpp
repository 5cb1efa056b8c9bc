#include "daemon.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstring>
#include <future>
#include <map>

#include <linux/capability.h>

#include "bpf/kernel_features.h"
#include "config/reload.h"
#include "core/capabilities.h"
#include "http_server.h"
#include "log/clock.h"
#include "log/log.h"
#include "log/loki_push.h"
#include "module.h"
#include "net/iface_label.h"
#include "otlp/otlp_exporter.h"
#include "otlp/otlp_log_exporter.h"

namespace tif {

namespace asio = boost::asio;

namespace {

// traceiface_probe_up{probe}: which modules started, so one missing tracepoint degrades one
// probe and says so, instead of taking the daemon down.
class ProbeUpCollector : public Collector {
  public:
    explicit ProbeUpCollector(std::map<std::string, bool> up) : up_(std::move(up)) {}
    std::string_view name() const override { return "probe_up"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto f = make_family("traceiface_probe_up",
                             "Whether a probe loaded and attached (1) or failed (0).",
                             prometheus::MetricType::Gauge);
        for (const auto& [name, up] : up_)
            add_sample(f, {{"probe", name}}, up ? 1 : 0);
        out.push_back(std::move(f));
        return Ok{};
    }

  private:
    std::map<std::string, bool> up_;
};

} // namespace

int run_daemon(const Options& opt) {
    asio::io_context io;
    MetricsRegistry registry;
    const uint64_t start_ns = uint64_t(realtime_now_ns()); // OTLP cumulative start time
    DaemonContext ctx{io, opt, own_netns_ino(), registry, {}, {}, {}, {}, {}};
    Log::msg(Level::info, "starting",
             Fields{{"host_netns", ctx.host_netns_ino}, {"listen_port", opt.listen.port}});
    ctx.event_log_limiter = std::make_shared<LogLimiter>(opt.log_event_rate, opt.log_event_burst);
    ctx.on_reload.push_back([lim = ctx.event_log_limiter](const Options& o) -> Status {
        Log::set_min_level(o.log_level);
        lim->set_rate(o.log_event_rate, o.log_event_burst);
        return Ok{};
    });
    ConfigReloader reloader(opt, ctx.on_reload);
    std::shared_ptr<LokiPusher> loki; // --loki.url: every line from here on also goes to Loki
    if (!opt.loki_url.empty()) {
        auto p = LokiPusher::start({.url = opt.loki_url});
        if (!p) {
            Log::msg(Level::error, "start-up failed", Fields{{"error", p.error().what}});
            return 1;
        }
        loki = std::move(*p);
        Log::set_tee([loki](const Fields& line) { loki->push(loki_entry(line)); });
        registry.add(loki->collector());
    }

    // Pinned counter maps: counters continue across restarts. Without them the probes still run.
    if (auto pins = PinStore::open(opt.bpf_pin_path); pins)
        ctx.pins = std::move(*pins);
    else {
        Log::msg(Level::warn, "no map pinning; counters restart with the process",
                 Fields{{"error", pins.error().message()}});
        ctx.pins = PinStore::disabled(/*failed=*/true);
    }

    ctx.iface_lifecycle =
        std::make_shared<IfaceLifecycle>(ctx.host_netns_ino, opt.iface_stale_grace_ns);
    std::map<std::string, bool> up;
    for (const auto& m : all_modules()) {
        Status st = m.start(ctx);
        up[m.name] = bool(st);
        if (!st)
            Log::msg(Level::error, "probe failed to start; continuing without it",
                     Fields{{"probe", m.name}, {"error", st.error().message()}});
    }
    const bool all_up = std::all_of(up.begin(), up.end(), [](auto& kv) { return kv.second; });
    if (std::none_of(up.begin(), up.end(), [](auto& kv) { return kv.second; })) {
        Log::msg(Level::error, "no probe could start; exiting");
        return 1;
    }
    // Every BPF object exists now: keep only what running on needs (capabilities.h), before
    // the HTTP threads are created, so they inherit the smaller set. Kernels before 6.5 with
    // unprivileged BPF disabled refuse even map reads without CAP_BPF (kernel_features.h).
    uint64_t keep_caps = cap_bit(CAP_NET_ADMIN);
    if (auto f = kernel_features(); !f || !f->bpf_fd_ops_without_cap)
        keep_caps |= cap_bit(CAP_BPF);
    if (auto caps = drop_caps_except(keep_caps); caps)
        Log::msg(Level::info, "capabilities dropped after start-up",
                 Fields{{"effective", cap_names(caps->effective)},
                        {"permitted", cap_names(caps->permitted)},
                        {"bounding", cap_names(caps->bounding)}});
    else
        Log::msg(Level::warn, "could not drop capabilities",
                 Fields{{"error", caps.error().message()}});
    registry.add(make_caps_collector());
    registry.add(ctx.pins->collector());
    registry.add(std::make_unique<ProbeUpCollector>(up));
    registry.add(std::make_unique<SelfCollector>(ctx.pipelines));
    registry.add(std::make_unique<ProgramStatsCollector>(ctx.programs));
    std::vector<HeldSource> held_sources;
    for (const auto& p : ctx.pipelines)
        if (p.held)
            held_sources.push_back(p.held);
    registry.add(make_log_limiter_collector(ctx.event_log_limiter, std::move(held_sources)));
    registry.add(reloader.collector());
    // A vanished interface's user-space state leaves with its kernel keys.
    ctx.iface_lifecycle->on_labels_gone(
        [lim = ctx.event_log_limiter, ex = &registry.exemplars()](const auto& gone) {
            for (const auto& label : gone) {
                lim->forget_iface(label);
                ex->forget_label("iface", label);
            }
        });
    registry.add(ctx.iface_lifecycle->collector());
    // POST /-/reload comes in on an HTTP thread; the reload itself runs on the io_context.
    auto reload_on_io = [&io, &reloader]() -> Status {
        auto done = std::make_shared<std::promise<Status>>();
        auto result = done->get_future();
        asio::post(io, [done, &reloader] { done->set_value(reloader.reload()); });
        while (result.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready)
            if (io.stopped())
                return Error{ESHUTDOWN, "reload: the daemon is shutting down"};
        return result.get();
    };

    std::atomic<bool> ready{false};
    HttpServer http({.listen = opt.listen,
                     .telemetry_path = opt.telemetry_path,
                     .enable_lifecycle = opt.enable_lifecycle,
                     .reload = reload_on_io},
                    registry, [&ready] { return ready.load(); });
    registry.add(http.request_collector());
    if (auto st = http.start(); !st) {
        Log::msg(Level::error, "start-up failed", Fields{{"error", st.error().message()}});
        return 1;
    }
    // --otlp.endpoint: pushes what /metrics serves, from a thread created after the
    // capabilities were dropped (it reads BPF maps like the HTTP threads). A reload may change
    // it, or start it when it was off.
    std::shared_ptr<OtlpExporter> otlp;
    auto start_otlp = [&](const OtlpOptions& o) -> Status {
        auto e = OtlpExporter::start(
            registry, {.otlp = o, .resource = otlp_resource_of_this_host(), .start_ns = start_ns});
        if (!e)
            return e.error();
        otlp = std::move(*e);
        registry.add(otlp->collector());
        Log::msg(Level::info, "OTLP metrics push on",
                 Fields{{"endpoint", o.endpoint}, {"interval_s", double(o.interval_ns) / 1e9}});
        return Ok{};
    };
    if (!opt.otlp.endpoint.empty())
        if (auto st = start_otlp(opt.otlp); !st) {
            Log::msg(Level::error, "start-up failed", Fields{{"error", st.error().what}});
            return 1;
        }
    ctx.on_reload.push_back([&](const Options& o) -> Status {
        if (otlp)
            return otlp->set(o.otlp);
        return o.otlp.endpoint.empty() ? Status(Ok{}) : start_otlp(o.otlp);
    });
    // --otlp.logs: every event line from here on also becomes an OTLP log record. Its own
    // thread, which needs no capability; a reload may change it, or start it when it was off.
    std::shared_ptr<OtlpLogExporter> otlp_logs;
    auto start_otlp_logs = [&](const OtlpOptions& o) -> Status {
        auto e = OtlpLogExporter::start({.otlp = o, .resource = otlp_resource_of_this_host()});
        if (!e)
            return e.error();
        otlp_logs = std::move(*e);
        registry.add(otlp_logs->collector());
        Log::set_event_tee([l = otlp_logs](const Fields& line) { l->push(line); });
        Log::msg(Level::info, "OTLP log export on",
                 Fields{{"endpoint", o.endpoint}, {"interval_s", double(o.interval_ns) / 1e9}});
        return Ok{};
    };
    if (opt.otlp.logs && opt.otlp.endpoint.empty())
        Log::msg(Level::warn, "--otlp.logs does nothing without --otlp.endpoint");
    if (OtlpLogExporter::wanted(opt.otlp))
        if (auto st = start_otlp_logs(opt.otlp); !st) {
            Log::msg(Level::error, "start-up failed", Fields{{"error", st.error().what}});
            return 1;
        }
    ctx.on_reload.push_back([&](const Options& o) -> Status {
        if (otlp_logs)
            return otlp_logs->set(o.otlp);
        return OtlpLogExporter::wanted(o.otlp) ? start_otlp_logs(o.otlp) : Status(Ok{});
    });
    for (auto& r : ctx.readers)
        r->start();
    ready = all_up;
    ctx.iface_lifecycle->start(io);
    ctx.on_stop.push_back([lc = ctx.iface_lifecycle] { lc->stop(); });

    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        Log::msg(Level::info, "shutting down", Fields{{"signal", strsignal(sig)}});
        for (auto& r : ctx.readers)
            r->stop();
        for (auto& f : ctx.on_stop)
            f();
        io.stop();
    });
    asio::signal_set hup(io, SIGHUP);
    std::function<void()> do_hup = [&] {
        hup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            Log::msg(Level::info, "SIGHUP received: reloading the config");
            (void)reloader.reload(); // logs the outcome; a refused config leaves the old one
            do_hup();
        });
    };
    do_hup();

    io.run();

    ready = false;
    http.stop();
    uint64_t consumed = 0;
    for (auto& r : ctx.readers) {
        r->drain(); // what the kernel already handed over still gets its log line
        consumed += r->consumed();
    }
    if (otlp)
        otlp->stop(); // its last push, while every probe it collects from is still there
    Log::set_event_tee({});
    if (otlp_logs)
        otlp_logs->stop(); // one last send of the queue, the drained lines included
    Log::flush();
    // Closing the accounts: lines written + log_lines_suppressed = events_consumed + events_held.
    const uint64_t held = held_total(ctx.pipelines);
    ctx.readers.clear();
    while (!ctx.keep_alive.empty()) // reverse order: detaches the programs
        ctx.keep_alive.pop_back();
    Log::msg(Level::info, "stopped",
             Fields{{"events_consumed", consumed},
                    {"events_held", held},
                    {"log_lines_suppressed", ctx.event_log_limiter->suppressed_total() + held}});
    Log::set_tee({});
    if (loki)
        loki->stop(); // one last push of what is buffered
    return 0;
}

} // namespace tif

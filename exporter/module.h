// A module is one probe (or other data source) plugged into the daemon: it loads and attaches
// its BPF objects, registers its collectors and ring-buffer readers in the context, and keeps
// its objects alive there. A module that fails to start degrades only itself: the daemon keeps
// running and traceiface_probe_up{probe} says 0.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/pin_store.h"
#include "bpf/prog_stats_collector.h"
#include "bpf/ring_reader.h"
#include "config/options.h"
#include "core/result.h"
#include "k8s/pod_directory.h"
#include "log/log_limiter.h"
#include "metrics_registry.h"
#include "net/iface_lifecycle.h"
#include "self_collector.h"
#include "span/span_maps.h"

namespace tif {

struct DaemonContext {
    boost::asio::io_context& io;
    const Options& opt;
    uint32_t host_netns_ino = 0;
    MetricsRegistry& registry;
    std::vector<EventPipeline> pipelines;             // for the self-metrics
    std::vector<ProgramRef> programs;                 // every loaded BPF program, for self-metrics
    std::vector<std::unique_ptr<RingReader>> readers; // started once every module is up
    // Objects owned by modules (probes, servers), destroyed in reverse order at shutdown,
    // after the readers: that is what detaches the programs.
    std::vector<std::shared_ptr<void>> keep_alive;
    // Called on shutdown before the io_context stops (cancel timers, close sockets).
    std::vector<std::function<void()>> on_stop;
    // The span-binding table and its gate (span_binding.h), created by the span module before
    // the probes load; a probe that declares them reuses them (use_span_table). -1: none.
    SpanMapFds span_maps{};
    // Config reload (SIGHUP, POST /-/reload; reload.h): each hook gets the new options, on the
    // io_context thread, and applies what it can change live (ctx.opt stays the start-up
    // options). A failing hook refuses the reload: every hook is then called again with the
    // running options. Registered so far: log.level and log.event-* (daemon.cpp). For the
    // owners of iface.include/exclude and span.allow-uids/gids: push yours in your module's
    // start function: ctx.on_reload.push_back([w](const Options& o) { return w->set(o); });
    std::vector<std::function<Status(const Options&)>> on_reload{};
    // Rate limit of event log lines (log_limiter.h), shared by every event source; set before
    // the modules start. Write a line only if event_log_limiter->allow(iface, event).
    std::shared_ptr<LogLimiter> event_log_limiter{};
    // --bpf.pin-path (pin_store.h): a probe passes it its counter maps before loading, so they
    // are pinned, or adopted from a predecessor. Disabled when the flag is "".
    std::shared_ptr<PinStore> pins = PinStore::disabled();
    // Which pod a network namespace belongs to (k8s/pod_directory.h): filled by the k8s module's
    // resolver thread, read by the interface table's info series and the retransmit lines.
    // Empty (every lookup misses) when pod identity is off.
    std::shared_ptr<PodDirectory> pods = std::make_shared<PodDirectory>();
    // One lifecycle for every per-interface series (iface_lifecycle.h): a module whose kernel
    // maps are keyed by interface registers them (add_map); per-label state in user space
    // follows on_labels_gone. Swept on the io_context every min(grace/4, 30s).
    std::shared_ptr<IfaceLifecycle> iface_lifecycle{};
};

struct Module {
    std::string name; // the `probe` label of traceiface_probe_up
    std::function<Status(DaemonContext&)> start;
};

// Every module the daemon knows, in start order.
std::vector<Module> all_modules();

} // namespace tif

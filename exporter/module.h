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

#include "metrics_registry.h"
#include "options.h"
#include "prog_stats_collector.h"
#include "result.h"
#include "ring_reader.h"
#include "self_collector.h"

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
};

struct Module {
    std::string name; // the `probe` label of traceiface_probe_up
    std::function<Status(DaemonContext&)> start;
};

// Every module the daemon knows, in start order.
std::vector<Module> all_modules();

} // namespace tif

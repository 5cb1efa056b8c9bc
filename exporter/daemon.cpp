#include "daemon.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstring>

#include "clock.h"
#include "http_server.h"
#include "iface_label.h"
#include "log.h"
#include "retransmit_probe.h"
#include "ring_reader.h"
#include "rtx_collector.h"
#include "rtx_event_json.h"
#include "self_collector.h"

namespace tif {

namespace asio = boost::asio;

namespace {

// One retransmit record from the ring buffer to one JSON line.
void log_rtx_record(std::span<const std::byte> rec, uint32_t host_ino,
                    std::atomic<uint64_t>& malformed)
{
    tif_rtx_event e{};
    if (rec.size() < sizeof(e)) {  // never happens with matching builds; count, don't guess
        malformed.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    std::memcpy(&e, rec.data(), sizeof(e));
    std::string iface = iface_label(e.iface, host_ino, host_ifname);
    std::string route = iface_label(e.route_iface, host_ino, host_ifname);
    Log::event(rtx_event_json(e, boottime_to_realtime_offset_ns(), iface, route));
}

void fatal(const Error& e)
{
    Log::msg(Level::error, "start-up failed", Fields{{"error", e.message()}});
}

}  // namespace

int run_daemon(const Options& opt)
{
    const uint32_t host_ino = own_netns_ino();
    Log::msg(Level::info, "starting",
             Fields{{"host_netns", host_ino}, {"listen_port", opt.listen.port}});

    auto probe = RetransmitProbe::start({.host_netns_ino = host_ino,
                                         .ringbuf_bytes = opt.ringbuf_bytes});
    if (!probe) {
        fatal(probe.error());
        return 1;
    }

    asio::io_context io;
    std::atomic<uint64_t> malformed{0};
    auto reader = RingReader::create(
        io, "rtx_events", (*probe)->events_map_fd(),
        [&](std::span<const std::byte> rec) { log_rtx_record(rec, host_ino, malformed); },
        [] { Log::flush(); });
    if (!reader) {
        fatal(reader.error());
        return 1;
    }

    MetricsRegistry registry;
    const RetransmitProbe& rp = **probe;
    registry.add(std::make_unique<RetransmitCollector>(rp, host_ino, host_ifname));
    RingReader& rr = **reader;
    registry.add(std::make_unique<SelfCollector>(std::vector<EventPipeline>{
        {"tcp_retransmit", [&rp] { return rp.read_stats(); }, [&rr] { return rr.consumed(); }}}));

    std::atomic<bool> ready{false};
    HttpServer http({.listen = opt.listen, .telemetry_path = opt.telemetry_path}, registry,
                    [&ready] { return ready.load(); });
    if (auto st = http.start(); !st) {
        fatal(st.error());
        return 1;
    }

    rr.start();
    ready = true;

    asio::signal_set stop_signals(io, SIGINT, SIGTERM);
    stop_signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec)
            return;
        Log::msg(Level::info, "shutting down", Fields{{"signal", strsignal(sig)}});
        rr.stop();
        io.stop();
    });
    asio::signal_set hup(io, SIGHUP);
    std::function<void()> do_hup = [&] {
        hup.async_wait([&](const boost::system::error_code& ec, int) {
            if (ec)
                return;
            Log::msg(Level::info, "SIGHUP received: nothing to reload yet");
            do_hup();
        });
    };
    do_hup();

    io.run();

    ready = false;
    http.stop();
    rr.drain();  // what the kernel already handed over still gets its log line
    Log::flush();
    const uint64_t consumed = rr.consumed();
    reader->reset();
    probe->reset();  // detaches the programs and frees the maps
    Log::msg(Level::info, "stopped", Fields{{"events_consumed", consumed}});
    return 0;
}

}  // namespace tif

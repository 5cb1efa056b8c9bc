// Command-line flags, named after the Prometheus exporters' conventions (--web.*, --log.*).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/k8s_options.h"
#include "config/span_options.h"
#include "core/result.h"
#include "log/log.h"
#include "net/tc_attach_mode.h"
#include "otlp/otlp_options.h"

namespace tif {

inline constexpr uint16_t DEFAULT_PORT = 9742;

struct ListenAddress {
    std::string host; // "" = every address (IPv4 and IPv6)
    uint16_t port = DEFAULT_PORT;
};

struct Options {
    ListenAddress listen{};
    std::string telemetry_path = "/metrics";
    Level log_level = Level::info;
    uint32_t ringbuf_bytes = 256 * 1024;
    uint64_t ringbuf_flush_interval_ns = 100'000'000; // ring_reader.h DEFAULT_RING_FLUSH_INTERVAL
    uint64_t tcp_rtt_sample_interval_ns = 1'000'000'000; // 0 = no rate limit
    std::string bpf_pin_path = "/sys/fs/bpf/traceiface"; // "" = no pinning (pin_store.h)
    TcAttach tc_attach = TcAttach::auto_;
    // Interfaces watched by the tc packet counters (regexes match the whole name).
    std::string iface_include = ".*";
    std::string iface_exclude = "lo"; // "" excludes nothing
    uint32_t iface_max = 1024;
    uint64_t iface_stale_grace_ns = 300'000'000'000; // 5m
    uint32_t tcp_max_iface_keys = 4096;              // capacity of rtx_counts, lat_hist, conn_fail
    SpanOptions span{};
    K8sOptions k8s{}; // --k8s.* (k8s_options.h)
    // Operator surface (config_file.h, reload.h, log_limiter.h).
    std::string config_file;           // --config.file; "" = flags only
    bool enable_lifecycle = false;     // --web.enable-lifecycle: POST /-/reload
    uint32_t log_event_rate = 100;     // event lines/s per (iface, event); 0 = unlimited
    uint32_t log_event_burst = 0;      // 0 = as many as the rate
    std::string loki_url;              // --loki.url; "" = no push (loki_push.h)
    OtlpOptions otlp{};                // --otlp.* (otlp/otlp_exporter.h)
    std::vector<std::string> cli_args; // the command line as given, re-applied on each reload
    bool help = false;
    bool version = false;
};

// "host:port", "[v6]:port" or ":port".
Result<ListenAddress> parse_listen_address(std::string_view s);

// "0", or a number with a unit: "250ms", "1s", "500us", "2m".
Result<uint64_t> parse_duration_ns(std::string_view flag, std::string_view s);

// Every error names the flag and the value that was refused.
Result<Options> parse_options(const std::vector<std::string>& args);

std::string usage();

} // namespace tif

// Command-line flags, named after the Prometheus exporters' conventions (--web.*, --log.*).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log.h"
#include "result.h"

namespace tif {

inline constexpr uint16_t DEFAULT_PORT = 9742;

struct ListenAddress {
    std::string host;  // "" = every address (IPv4 and IPv6)
    uint16_t port = DEFAULT_PORT;
};

struct Options {
    ListenAddress listen{};
    std::string telemetry_path = "/metrics";
    Level log_level = Level::info;
    uint32_t ringbuf_bytes = 256 * 1024;
    bool help = false;
    bool version = false;
};

// "host:port", "[v6]:port" or ":port".
Result<ListenAddress> parse_listen_address(std::string_view s);

// Every error names the flag and the value that was refused.
Result<Options> parse_options(const std::vector<std::string>& args);

std::string usage();

}  // namespace tif

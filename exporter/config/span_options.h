// Flags of the span-context socket (--span.*), kept apart from options.cpp so that the span
// server owns its own parsing; parse_options() merges them in with add_span_flags().
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace tif {

struct SpanOptions {
    std::string socket_path = "/run/traceiface/span.sock"; // "" = no span socket
    uint32_t socket_mode = 0660;
    std::string socket_group;      // name or number; "" = leave the group as created
    std::vector<uid_t> allow_uids; // besides root and the daemon's own uid
    std::vector<gid_t> allow_gids; // the peer's effective gid (SO_PEERCRED)
    uint32_t max_bindings = 65536;
    uint64_t ttl_ns = 60'000'000'000;
    uint32_t max_clients = 64;
    uint32_t client_rate = 1000; // frames/s per client; 0 = unlimited
};

using FlagSetter = std::function<Status(std::string_view)>;
using FlagMap = std::map<std::string, FlagSetter, std::less<>>;

void add_span_flags(FlagMap& flags, SpanOptions& o);
std::string span_usage();

// "1000,1001" -> ids; "" -> none.
Result<std::vector<uint32_t>> parse_id_list(std::string_view flag, std::string_view v);

} // namespace tif

#include "config/span_options.h"

#include <charconv>

#include "config/options.h"

namespace tif {

namespace {
Result<uint64_t> number(std::string_view flag, std::string_view v, uint64_t min, uint64_t max,
                        int base = 10) {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n, base);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || n < min || n > max)
        return Error{EINVAL, std::string(flag) + ": not a number in [" + std::to_string(min) +
                                 ", " + std::to_string(max) + "]: \"" + std::string(v) + "\""};
    return n;
}
} // namespace

Result<std::vector<uint32_t>> parse_id_list(std::string_view flag, std::string_view v) {
    std::vector<uint32_t> out;
    while (!v.empty()) {
        auto comma = v.find(',');
        auto n = number(flag, v.substr(0, comma), 0, 0xfffffffe);
        if (!n)
            return n.error();
        out.push_back(uint32_t(*n));
        if (comma == std::string_view::npos)
            break;
        v.remove_prefix(comma + 1);
        if (v.empty())
            return Error{EINVAL, std::string(flag) + ": trailing comma"};
    }
    return out;
}

void add_span_flags(FlagMap& flags, SpanOptions& o) {
    flags["--span.socket"] = [&o](std::string_view v) -> Status {
        if (!v.empty() && (v.front() != '/' || v.size() >= 108))
            return Error{EINVAL, "--span.socket: an absolute path shorter than 108 bytes, or "
                                 "\"\" for none: \"" +
                                     std::string(v) + "\""};
        o.socket_path = std::string(v);
        return Ok{};
    };
    flags["--span.socket-mode"] = [&o](std::string_view v) -> Status {
        auto n = number("--span.socket-mode", v, 0, 0777, 8);
        if (!n)
            return Error{EINVAL, "--span.socket-mode: octal permission bits such as 0660: \"" +
                                     std::string(v) + "\""};
        o.socket_mode = uint32_t(*n);
        return Ok{};
    };
    flags["--span.socket-group"] = [&o](std::string_view v) -> Status {
        // A number is taken as a gid as it stands, so it must be one (span_server.cpp's
        // std::stoul threw on 20 digits and took the daemon down).
        if (!v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos)
            if (auto n = number("--span.socket-group", v, 0, 0xfffffffe); !n)
                return n.error();
        o.socket_group = std::string(v);
        return Ok{};
    };
    flags["--span.allow-uids"] = [&o](std::string_view v) -> Status {
        auto ids = parse_id_list("--span.allow-uids", v);
        if (!ids)
            return ids.error();
        o.allow_uids.assign(ids->begin(), ids->end());
        return Ok{};
    };
    flags["--span.allow-gids"] = [&o](std::string_view v) -> Status {
        auto ids = parse_id_list("--span.allow-gids", v);
        if (!ids)
            return ids.error();
        o.allow_gids.assign(ids->begin(), ids->end());
        return Ok{};
    };
    flags["--span.max-bindings"] = [&o](std::string_view v) -> Status {
        auto n = number("--span.max-bindings", v, 16, 1u << 24);
        if (!n)
            return n.error();
        o.max_bindings = uint32_t(*n);
        return Ok{};
    };
    flags["--span.ttl"] = [&o](std::string_view v) -> Status {
        auto d = parse_duration_ns("--span.ttl", v);
        if (!d)
            return d.error();
        if (*d < 1'000'000'000)
            return Error{EINVAL, "--span.ttl: at least 1s: \"" + std::string(v) + "\""};
        o.ttl_ns = *d;
        return Ok{};
    };
    flags["--span.max-clients"] = [&o](std::string_view v) -> Status {
        auto n = number("--span.max-clients", v, 1, 65536);
        if (!n)
            return n.error();
        o.max_clients = uint32_t(*n);
        return Ok{};
    };
    flags["--span.client-rate"] = [&o](std::string_view v) -> Status {
        auto n = number("--span.client-rate", v, 0, 10'000'000);
        if (!n)
            return n.error();
        o.client_rate = uint32_t(*n);
        return Ok{};
    };
}

std::string span_usage() {
    return "\nSpan-context socket (applications bind trace ids to their TCP connections):\n"
           "  --span.socket=PATH              SOCK_SEQPACKET socket; \"\" = none\n"
           "                                  (default /run/traceiface/span.sock)\n"
           "  --span.socket-mode=OCTAL        file mode of the socket (default 0660)\n"
           "  --span.socket-group=GROUP       group owning the socket (name or gid)\n"
           "  --span.allow-uids=LIST          peer uids allowed besides root and our own uid\n"
           "  --span.allow-gids=LIST          peer groups allowed besides the socket's\n"
           "  --span.max-bindings=N           size of the LRU binding table (default 65536)\n"
           "  --span.ttl=DUR                  a binding's lifetime, >= 1s (default 60s)\n"
           "  --span.max-clients=N            concurrent clients (default 64)\n"
           "  --span.client-rate=N            frames/s per client, 0 = unlimited (default 1000)\n";
}

} // namespace tif

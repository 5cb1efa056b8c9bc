// libFuzzer target for the command line (exporter/options.cpp, operator_flags.cpp,
// span_options.cpp): the input is split on NUL bytes into argv and parsed as the daemon does;
// the first byte picks one value parser to run on the rest alone as well. Errors must name
// what was refused; nothing may crash, hang or leak.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/options.h"
#include "config/span_options.h"

namespace {
void value_parser(uint8_t which, std::string_view v) {
    switch (which % 4) {
    case 0:
        if (auto a = tif::parse_listen_address(v); a && a->port == 0)
            std::abort();
        break;
    case 1:
        if (auto d = tif::parse_duration_ns("--f", v); d && *d > 3600'000'000'000ull)
            std::abort();
        break;
    case 2:
        if (auto ids = tif::parse_id_list("--f", v); ids && ids->size() > v.size())
            std::abort();
        break;
    default:
        (void)tif::parse_level(v);
    }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0)
        return 0;
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    value_parser(data[0], in);

    std::vector<std::string> argv;
    size_t start = 0;
    for (size_t i = 0; i <= in.size(); ++i)
        if (i == in.size() || in[i] == '\0') {
            argv.emplace_back(in.substr(start, i - start));
            start = i + 1;
        }
    auto o = tif::parse_options(argv);
    if (!o) {
        if (o.error().what.empty())
            std::abort();
        return 0;
    }
    if (o->listen.port == 0 || o->telemetry_path.empty() || o->telemetry_path[0] != '/')
        std::abort();
    if (o->ringbuf_bytes < 4096 || (o->ringbuf_bytes & (o->ringbuf_bytes - 1)) != 0)
        std::abort();
    if (o->iface_max == 0 || o->span.max_clients == 0)
        std::abort();
    // A numeric --span.socket-group is used as a gid as it stands (span_server.cpp).
    const std::string& g = o->span.socket_group;
    if (!g.empty() && g.find_first_not_of("0123456789") == std::string::npos) {
        uint64_t gid = 0;
        auto [p, ec] = std::from_chars(g.data(), g.data() + g.size(), gid);
        if (ec != std::errc{} || gid > 0xfffffffeull)
            std::abort();
    }
    return 0;
}

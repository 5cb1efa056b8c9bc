#include "config/options.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <map>
#include <regex>

#include "config/operator_flags.h"
#include "config/span_options.h"
#include "version.h"

namespace tif {

namespace {
Result<uint64_t> parse_uint(std::string_view flag, std::string_view v, uint64_t max) {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || v.empty() || n > max)
        return Error{EINVAL, std::string(flag) + ": not a number in [0, " + std::to_string(max) +
                                 "]: \"" + std::string(v) + "\""};
    return n;
}

// libstdc++ 12's std::regex overflows a signed long on "{99999999999999999999}" (UB) and
// builds a copy of the repeated part per count, so "((a{255}){255}){255}" takes gigabytes;
// "\\11111111111111111111" (a backreference) overflows too.
// Interface names are at most 15 characters: short patterns with small counts are plenty
// (found by fuzzing). Braces inside [...] are counted too, which only errs on the safe side.
Status check_regex_size(std::string_view flag, std::string_view v) {
    constexpr size_t MAX_LEN = 1024;
    constexpr uint64_t MAX_COUNT = 255, MAX_PRODUCT = 65536;
    const auto bad = [&](const std::string& why) {
        return Error{EINVAL, std::string(flag) + ": " + why + ": \"" + std::string(v) + "\""};
    };
    if (v.size() > MAX_LEN)
        return bad("a regular expression of at most " + std::to_string(MAX_LEN) + " bytes");
    uint64_t product = 1;
    for (size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\') { // a backreference's number overflows the same way
            size_t digits = 0;
            while (i + 1 < v.size() && v[i + 1] >= '0' && v[i + 1] <= '9' && digits <= 3)
                ++i, ++digits;
            if (digits > 3)
                return bad("backreference numbers of at most 3 digits");
            if (digits == 0)
                ++i;
            continue;
        }
        if (v[i] != '{')
            continue;
        uint64_t largest = 0, n = 0;
        for (++i; i < v.size() && v[i] != '}'; ++i) {
            if (v[i] == ',') {
                n = 0;
                continue;
            }
            if (v[i] < '0' || v[i] > '9')
                break; // not a repetition; std::regex decides what it is
            n = n * 10 + uint64_t(v[i] - '0');
            if (n > MAX_COUNT)
                return bad("repetition counts up to " + std::to_string(MAX_COUNT));
            largest = std::max(largest, n);
        }
        product *= std::max<uint64_t>(largest, 1);
        if (product > MAX_PRODUCT)
            return bad("repetition counts multiplying to at most " + std::to_string(MAX_PRODUCT));
    }
    return Ok{};
}

Status check_regex(std::string_view flag, std::string_view v) {
    if (auto st = check_regex_size(flag, v); !st)
        return st;
    try {
        std::regex re{std::string(v)};
    } catch (const std::regex_error& e) {
        return Error{EINVAL, std::string(flag) + ": not a regular expression (" + e.what() +
                                 "): \"" + std::string(v) + "\""};
    }
    return Ok{};
}
} // namespace

Result<uint64_t> parse_duration_ns(std::string_view flag, std::string_view s) {
    static constexpr std::pair<std::string_view, uint64_t> units[] = {
        {"us", 1000}, {"ms", 1000'000}, {"s", 1000'000'000}, {"m", 60'000'000'000}};
    if (s == "0")
        return uint64_t{0};
    for (const auto& [suffix, ns] : units) {
        if (s.size() <= suffix.size() || !s.ends_with(suffix))
            continue;
        std::string_view num = s.substr(0, s.size() - suffix.size());
        if (num.back() < '0' || num.back() > '9') // "ms" must not match as "m" of "...s"
            continue;
        auto n = parse_uint(flag, num, 3600'000'000'000 / ns);
        if (!n)
            break;
        return *n * ns;
    }
    return Error{EINVAL, std::string(flag) + ": a duration up to 1h such as 250ms, 1s or 0: \"" +
                             std::string(s) + "\""};
}

Result<ListenAddress> parse_listen_address(std::string_view s) {
    const auto bad = [&](std::string why) {
        return Error{EINVAL, "--web.listen-address: " + why + ": \"" + std::string(s) + "\""};
    };
    ListenAddress a;
    std::string_view port;
    if (!s.empty() && s.front() == '[') {
        auto close = s.find(']');
        if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
            return bad("expected [ipv6]:port");
        a.host = std::string(s.substr(1, close - 1));
        port = s.substr(close + 2);
    } else {
        auto colon = s.rfind(':');
        if (colon == std::string_view::npos)
            return bad("expected host:port or :port");
        a.host = std::string(s.substr(0, colon));
        if (a.host.find(':') != std::string::npos)
            return bad("put an IPv6 address in brackets");
        port = s.substr(colon + 1);
    }
    auto n = parse_uint("--web.listen-address", port, 65535);
    if (!n || *n == 0)
        return bad("port must be 1-65535");
    a.port = uint16_t(*n);
    return a;
}

Result<Options> parse_options(const std::vector<std::string>& args) {
    Options o;
    using Setter = std::function<Status(std::string_view)>;
    std::map<std::string, Setter, std::less<>> flags = {
        {"--web.listen-address",
         [&](std::string_view v) -> Status {
             auto a = parse_listen_address(v);
             if (!a)
                 return a.error();
             o.listen = *a;
             return Ok{};
         }},
        {"--web.telemetry-path",
         [&](std::string_view v) -> Status {
             if (v.size() < 2 || v.front() != '/' || v.starts_with("/-/"))
                 return Error{EINVAL, "--web.telemetry-path: must start with '/', not be '/' and "
                                      "not be under /-/: \"" +
                                          std::string(v) + "\""};
             o.telemetry_path = std::string(v);
             return Ok{};
         }},
        {"--log.level",
         [&](std::string_view v) -> Status {
             auto l = parse_level(v);
             if (!l)
                 return Error{EINVAL, "--log.level: one of debug, info, warn, error: \"" +
                                          std::string(v) + "\""};
             o.log_level = *l;
             return Ok{};
         }},
        {"--bpf.ringbuf-bytes",
         [&](std::string_view v) -> Status {
             auto n = parse_uint("--bpf.ringbuf-bytes", v, 1u << 30);
             if (!n)
                 return n.error();
             if (*n < 4096 || (*n & (*n - 1)) != 0)
                 return Error{EINVAL, "--bpf.ringbuf-bytes: a power of two >= 4096: \"" +
                                          std::string(v) + "\""};
             o.ringbuf_bytes = uint32_t(*n);
             return Ok{};
         }},
        {"--bpf.ringbuf-flush-interval",
         [&](std::string_view v) -> Status {
             // 0 would leave unwoken events stranded (see ring_reader.h); under 1 ms is polling.
             auto d = parse_duration_ns("--bpf.ringbuf-flush-interval", v);
             if (!d || *d < 1'000'000 || *d > 10'000'000'000)
                 return Error{EINVAL,
                              "--bpf.ringbuf-flush-interval: a duration from 1ms to 10s: \"" +
                                  std::string(v) + "\""};
             o.ringbuf_flush_interval_ns = *d;
             return Ok{};
         }},
        {"--bpf.pin-path",
         [&](std::string_view v) -> Status {
             if (!v.empty() && (v.front() != '/' || v.size() < 2))
                 return Error{EINVAL, "--bpf.pin-path: an absolute directory on bpffs, or \"\" "
                                      "for no pinning: \"" +
                                          std::string(v) + "\""};
             o.bpf_pin_path = std::string(v);
             return Ok{};
         }},
        {"--bpf.tc-attach",
         [&](std::string_view v) -> Status {
             auto a = parse_tc_attach(v);
             if (!a)
                 return a.error();
             o.tc_attach = *a;
             return Ok{};
         }},
        {"--tcp.rtt-sample-interval",
         [&](std::string_view v) -> Status {
             auto d = parse_duration_ns("--tcp.rtt-sample-interval", v);
             if (!d)
                 return d.error();
             o.tcp_rtt_sample_interval_ns = *d;
             return Ok{};
         }},
        {"--iface.include",
         [&](std::string_view v) -> Status {
             o.iface_include = std::string(v);
             return check_regex("--iface.include", v);
         }},
        {"--iface.exclude",
         [&](std::string_view v) -> Status {
             o.iface_exclude = std::string(v);
             return check_regex("--iface.exclude", v);
         }},
        {"--iface.max",
         [&](std::string_view v) -> Status {
             auto n = parse_uint("--iface.max", v, 65536);
             if (!n || *n == 0)
                 return Error{EINVAL,
                              "--iface.max: a number in [1, 65536]: \"" + std::string(v) + "\""};
             o.iface_max = uint32_t(*n);
             return Ok{};
         }},
        {"--iface.stale-grace",
         [&](std::string_view v) -> Status {
             auto d = parse_duration_ns("--iface.stale-grace", v);
             if (!d)
                 return d.error();
             o.iface_stale_grace_ns = *d;
             return Ok{};
         }},
        {"--tcp.max-iface-keys",
         [&](std::string_view v) -> Status {
             auto n = parse_uint("--tcp.max-iface-keys", v, 1u << 20);
             if (!n || *n < 8)
                 return Error{EINVAL, "--tcp.max-iface-keys: a number in [8, 1048576]: \"" +
                                          std::string(v) + "\""};
             o.tcp_max_iface_keys = uint32_t(*n);
             return Ok{};
         }},
    };
    add_span_flags(flags, o.span);
    add_k8s_flags(flags, o.k8s);
    add_operator_flags(flags, o);
    add_otlp_flags(flags, o.otlp);

    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "-h" || a == "--help") {
            o.help = true;
            continue;
        }
        if (a == "--version") {
            o.version = true;
            continue;
        }
        std::string_view name = a, value;
        bool has_value = false;
        if (auto eq = a.find('='); eq != std::string_view::npos) {
            name = a.substr(0, eq);
            value = a.substr(eq + 1);
            has_value = true;
        }
        auto it = flags.find(name);
        if (it == flags.end())
            return Error{EINVAL, "unknown flag \"" + std::string(name) + "\" (see --help)"};
        if (!has_value && is_bool_flag(name)) {
            value = "true";
        } else if (!has_value) {
            if (i + 1 >= args.size())
                return Error{EINVAL, std::string(name) + ": missing value"};
            value = args[++i];
        }
        if (auto st = it->second(value); !st)
            return st.error();
    }
    return o;
}

std::string usage() {
    return std::string("usage: traceiface [flags]\n"
                       "       traceiface check-config FILE   validate a --config.file\n"
                       "       traceiface cleanup [--bpf.pin-path=DIR] [--all-filters]\n"
                       "                                      remove pins, leftover filters\n\n") +
           "traceiface " TRACEIFACE_VERSION " - per-interface TCP health from eBPF, for "
           "Prometheus and Loki.\nRuns as root (or with CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN).\n\n"
           "Flags:\n"
           "  --web.listen-address=HOST:PORT  where /metrics is served; \":PORT\" means every\n"
           "                                  address (default \":" +
           std::to_string(DEFAULT_PORT) +
           "\")\n"
           "  --web.telemetry-path=PATH       path of the metrics (default \"/metrics\")\n"
           "  --log.level=LEVEL               debug, info, warn or error (default info)\n"
           "  --bpf.ringbuf-bytes=N           size of each event ring buffer, a power of two\n"
           "                                  >= 4096 (default 262144)\n"
           "  --bpf.ringbuf-flush-interval=DUR\n"
           "                                  read the ring buffers at least this often: the\n"
           "                                  longest an event waits at low rates (default\n"
           "                                  100ms; 1ms to 10s)\n"
           "  --bpf.pin-path=DIR              pin the counter maps here (bpffs) so counters\n"
           "                                  continue across restarts; \"\" = no pinning\n"
           "                                  (default /sys/fs/bpf/traceiface)\n"
           "  --bpf.tc-attach=MODE            how the packet counters hook the interfaces:\n"
           "                                  tcx links (Linux 6.6+), clsact filters, or auto\n"
           "                                  = tcx where the kernel has it (default auto)\n"
           "  --tcp.rtt-sample-interval=DUR   one RTT sample per TCP flow per DUR it is active\n"
           "                                  in, e.g. 250ms, 1s; 0 = every ACK (default 1s)\n"
           "  --iface.include=REGEX           count packets on interfaces whose whole name\n"
           "                                  matches (default \".*\")\n"
           "  --iface.exclude=REGEX           ... unless it matches this (default \"lo\"; \"\" =\n"
           "                                  exclude nothing)\n"
           "  --iface.max=N                   watch at most N interfaces (default 1024)\n"
           "  --iface.stale-grace=DUR         keep a vanished interface's series this long\n"
           "                                  (default 5m)\n"
           "  --tcp.max-iface-keys=N          keys of each per-interface TCP map (retransmits,\n"
           "                                  latency histograms, connect failures; default 4096)\n"
           "  -h, --help                      this text\n"
           "  --version                       version and build details\n\n"
           "Output: one JSON object per line on stdout, events and daemon messages alike.\n"
           "Endpoints: /metrics, /-/healthy, /-/ready, / (landing page), POST /-/reload.\n" +
           span_usage() + k8s_usage() + operator_usage() + otlp_usage();
}

} // namespace tif

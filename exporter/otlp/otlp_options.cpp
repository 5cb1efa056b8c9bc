#include "otlp/otlp_options.h"

#include <cctype>

#include "config/options.h"

namespace tif {

namespace {
constexpr uint64_t SECOND_NS = 1'000'000'000;

// A header name is an HTTP token; a value may not break the request line it is written into.
bool header_name_ok(std::string_view n) {
    if (n.empty())
        return false;
    for (unsigned char c : n)
        if (!(std::isalnum(c) ||
              std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos))
            return false;
    return true;
}
bool header_value_ok(std::string_view v) {
    for (unsigned char c : v)
        if (c == '\r' || c == '\n' || c == 0)
            return false;
    return true;
}
} // namespace

Result<OtlpTarget> parse_otlp_endpoint(std::string_view url, std::string_view signal_path) {
    const auto bad = [&] {
        return Error{EINVAL, "--otlp.endpoint: expected http(s)://HOST:PORT[/PREFIX] such as "
                             "http://collector:4318, or \"\" for none: \"" +
                                 std::string(url) + "\""};
    };
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos ||
        (url.substr(0, scheme) != "http" && url.substr(0, scheme) != "https"))
        return bad();
    auto slash = url.find('/', scheme + 3);
    if (slash == scheme + 3 || url.size() == scheme + 3)
        return bad();
    OtlpTarget t{std::string(url.substr(0, slash)), ""};
    std::string prefix = slash == std::string_view::npos ? "" : std::string(url.substr(slash));
    while (!prefix.empty() && prefix.back() == '/')
        prefix.pop_back();
    for (std::string_view p : {OTLP_METRICS_PATH, OTLP_LOGS_PATH})
        if (prefix.ends_with(p)) {
            prefix.resize(prefix.size() - p.size());
            break;
        }
    t.path = prefix + std::string(signal_path);
    return t;
}

bool is_otlp_bool_flag(std::string_view name) {
    return name == "--otlp.logs";
}

void add_otlp_flags(FlagMap& flags, OtlpOptions& o) {
    flags["--otlp.endpoint"] = [&o](std::string_view v) -> Status {
        if (!v.empty())
            if (auto t = parse_otlp_endpoint(v); !t)
                return t.error();
        o.endpoint = std::string(v);
        return Ok{};
    };
    flags["--otlp.interval"] = [&o](std::string_view v) -> Status {
        auto d = parse_duration_ns("--otlp.interval", v);
        if (!d || *d < SECOND_NS)
            return Error{EINVAL,
                         "--otlp.interval: a duration from 1s to 1h: \"" + std::string(v) + "\""};
        o.interval_ns = *d;
        return Ok{};
    };
    // Repeatable; the config file joins a list with commas, so "K=V,K2=V2" is split too (a
    // value cannot contain a comma; no header this is for needs one).
    flags["--otlp.header"] = [&o](std::string_view v) -> Status {
        while (!v.empty()) {
            auto comma = v.find(',');
            std::string_view item = v.substr(0, comma);
            v = comma == std::string_view::npos ? "" : v.substr(comma + 1);
            auto eq = item.find('=');
            if (eq == std::string_view::npos || !header_name_ok(item.substr(0, eq)) ||
                !header_value_ok(item.substr(eq + 1)))
                return Error{EINVAL, "--otlp.header: NAME=VALUE with an HTTP header name: \"" +
                                         std::string(item) + "\""};
            o.headers.emplace_back(item.substr(0, eq), item.substr(eq + 1));
        }
        return Ok{};
    };
    flags["--otlp.logs"] = [&o](std::string_view v) -> Status {
        if (v != "true" && v != "false")
            return Error{EINVAL, "--otlp.logs: true or false: \"" + std::string(v) + "\""};
        o.logs = v == "true";
        return Ok{};
    };
}

std::string otlp_usage() {
    return "\nOpenTelemetry (OTLP) metrics push and log export:\n"
           "  --otlp.endpoint=URL             also push every metric as OTLP/HTTP protobuf to\n"
           "                                  URL/v1/metrics, e.g. http://collector:4318\n"
           "                                  (default: off)\n"
           "  --otlp.interval=DUR             push this often, 1s to 1h (default 30s)\n"
           "  --otlp.header=NAME=VALUE        an HTTP header on every push, e.g.\n"
           "                                  Authorization=Bearer ...; repeatable\n"
           "  --otlp.logs                     also send every event line as an OTLP log record\n"
           "                                  to URL/v1/logs, with its trace id (default off)\n";
}

} // namespace tif

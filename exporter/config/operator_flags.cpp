#include "config/operator_flags.h"

#include <charconv>

#include "config/options.h"
#include "otlp/otlp_options.h"

namespace tif {

namespace {
Result<uint32_t> small_number(std::string_view flag, std::string_view v, uint32_t max) {
    uint32_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || p != v.data() + v.size() || n > max)
        return Error{EINVAL, std::string(flag) + ": not a number in [0, " + std::to_string(max) +
                                 "]: \"" + std::string(v) + "\""};
    return n;
}
} // namespace

bool is_bool_flag(std::string_view name) {
    return name == "--web.enable-lifecycle" || is_otlp_bool_flag(name);
}

void add_operator_flags(FlagMap& flags, Options& o) {
    flags["--config.file"] = [&o](std::string_view v) -> Status {
        if (v.empty())
            return Error{EINVAL, "--config.file: a path is needed"};
        o.config_file = std::string(v);
        return Ok{};
    };
    flags["--web.enable-lifecycle"] = [&o](std::string_view v) -> Status {
        if (v != "true" && v != "false")
            return Error{EINVAL,
                         "--web.enable-lifecycle: true or false: \"" + std::string(v) + "\""};
        o.enable_lifecycle = v == "true";
        return Ok{};
    };
    flags["--log.event-rate"] = [&o](std::string_view v) -> Status {
        auto n = small_number("--log.event-rate", v, 1'000'000);
        if (!n)
            return n.error();
        o.log_event_rate = *n;
        return Ok{};
    };
    flags["--loki.url"] = [&o](std::string_view v) -> Status {
        if (!v.empty() && !v.starts_with("http://") && !v.starts_with("https://"))
            return Error{EINVAL, "--loki.url: an http:// or https:// URL, or \"\" for none: \"" +
                                     std::string(v) + "\""};
        o.loki_url = std::string(v);
        return Ok{};
    };
    flags["--log.event-burst"] = [&o](std::string_view v) -> Status {
        auto n = small_number("--log.event-burst", v, 1'000'000);
        if (!n)
            return n.error();
        o.log_event_burst = *n;
        return Ok{};
    };
}

std::string operator_usage() {
    return "\nConfig file, reload, log volume:\n"
           "  --config.file=PATH              YAML file with the same options: keys are the flag\n"
           "                                  names without \"--\", nested by their dots\n"
           "                                  (web: {listen-address: \":9742\"}); flags win.\n"
           "                                  Re-read on SIGHUP. Check one with\n"
           "                                  `traceiface check-config PATH`\n"
           "  --web.enable-lifecycle          allow POST /-/reload (default off)\n"
           "  --log.event-rate=N              event lines/s per interface and event, 0 =\n"
           "                                  unlimited (default 100); held-back lines are\n"
           "                                  counted in traceiface_log_lines_suppressed_total\n"
           "  --log.event-burst=N             lines allowed at once (default 0 = the rate)\n"
           "  --loki.url=URL                  also push every line to Loki, e.g.\n"
           "                                  http://loki:3100/loki/api/v1/push (default: off)\n";
}

} // namespace tif

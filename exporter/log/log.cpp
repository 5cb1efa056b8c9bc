#include "log/log.h"

#include <bpf/libbpf.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "log/clock.h"

namespace tif {

namespace {
std::atomic<int> g_min_level{int(Level::info)};
std::mutex g_out_mu; // lines from the io_context thread and the HTTP threads never interleave
FILE* g_out = stdout;
std::mutex g_tee_mu;
std::shared_ptr<std::function<void(const Fields&)>> g_tee;
std::shared_ptr<std::function<void(const Fields&)>> g_event_tee; // under g_tee_mu too

void write_line(const Fields& j, bool flush) {
    std::shared_ptr<std::function<void(const Fields&)>> tee;
    {
        std::lock_guard lk(g_tee_mu);
        tee = g_tee;
    }
    if (tee)
        (*tee)(j);
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    line.push_back('\n');
    std::lock_guard lk(g_out_mu);
    fwrite(line.data(), 1, line.size(), g_out);
    if (flush)
        fflush(g_out);
}

int libbpf_print(enum libbpf_print_level level, const char* fmt, va_list ap) {
    Level l = level == LIBBPF_WARN   ? Level::warn
              : level == LIBBPF_INFO ? Level::info
                                     : Level::debug;
    if (!Log::enabled(l))
        return 0;
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(nullptr, 0, fmt, ap2);
    va_end(ap2);
    std::string text(n < 0 ? 0 : size_t(n) + 1, '\0');
    if (n >= 0)
        vsnprintf(text.data(), text.size(), fmt, ap);
    text.resize(n < 0 ? 0 : size_t(n));
    // A verifier log can run to megabytes and states its reason at the very end: keep the
    // head (what was loaded) and the tail (why it was refused), drop the middle.
    constexpr size_t head = 2048, tail = 6144;
    if (text.size() > head + tail)
        text = text.substr(0, head) + "\n... [" + std::to_string(text.size() - head - tail) +
               " bytes of verifier log omitted] ...\n" + text.substr(text.size() - tail);
    while (!text.empty() && text.back() == '\n')
        text.pop_back();
    Log::msg(l, text, Fields{{"component", "libbpf"}});
    return n;
}
} // namespace

std::string_view level_name(Level l) {
    switch (l) {
    case Level::debug:
        return "debug";
    case Level::info:
        return "info";
    case Level::warn:
        return "warn";
    case Level::error:
        return "error";
    }
    return "info";
}

std::optional<Level> parse_level(std::string_view s) {
    for (Level l : {Level::debug, Level::info, Level::warn, Level::error})
        if (s == level_name(l))
            return l;
    return std::nullopt;
}

Fields log_head(int64_t realtime_ns, Level l, std::string_view text) {
    Fields j = Fields::object();
    j["ts"] = format_rfc3339_ns(realtime_ns);
    j["level"] = level_name(l);
    j["msg"] = text;
    j["v"] = LOG_SCHEMA_VERSION;
    return j;
}

void Log::set_min_level(Level l) {
    g_min_level = int(l);
}
bool Log::enabled(Level l) {
    return int(l) >= g_min_level.load(std::memory_order_relaxed);
}

void Log::msg(Level l, std::string_view text, const Fields& fields) {
    if (!enabled(l))
        return;
    Fields j = log_head(realtime_now_ns(), l, text);
    for (auto& [k, v] : fields.items())
        j[k] = v;
    write_line(j, true);
}

void Log::event(const Fields& line) {
    std::shared_ptr<std::function<void(const Fields&)>> tee;
    {
        std::lock_guard lk(g_tee_mu);
        tee = g_event_tee;
    }
    if (tee)
        (*tee)(line);
    write_line(line, false);
}

void Log::flush() {
    std::lock_guard lk(g_out_mu);
    fflush(g_out);
}

void Log::set_output(FILE* out) {
    std::lock_guard lk(g_out_mu);
    g_out = out ? out : stdout;
}

void Log::set_tee(std::function<void(const Fields&)> tee) {
    std::lock_guard lk(g_tee_mu);
    g_tee = tee ? std::make_shared<std::function<void(const Fields&)>>(std::move(tee)) : nullptr;
}

void Log::set_event_tee(std::function<void(const Fields&)> tee) {
    std::lock_guard lk(g_tee_mu);
    g_event_tee =
        tee ? std::make_shared<std::function<void(const Fields&)>>(std::move(tee)) : nullptr;
}

void Log::route_libbpf() {
    libbpf_set_print(libbpf_print);
}

} // namespace tif

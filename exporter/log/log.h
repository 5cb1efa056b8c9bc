// One JSON object per line on stdout, for the daemon's own messages and for events alike, so
// Loki (or jq) reads both with the same `| json`. Schema version in LOG_SCHEMA_VERSION.
#pragma once

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

namespace tif {

inline constexpr int LOG_SCHEMA_VERSION = 1;

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

std::string_view level_name(Level l);
std::optional<Level> parse_level(std::string_view s);

using Fields = nlohmann::ordered_json;

class Log {
  public:
    static void set_min_level(Level l);
    static bool enabled(Level l);

    // A daemon message: {"ts","level","msg",...fields}. Flushed at once.
    static void msg(Level l, std::string_view text, const Fields& fields = Fields::object());

    // An event line that already holds its fields (built by the event formatters). Buffered
    // by stdio; the caller flushes after each batch.
    static void event(const Fields& line);
    static void flush();

    // Where lines go (stdout unless a test captures them).
    static void set_output(FILE* out);
    // Every line written is also handed to `tee` (e.g. the Loki pusher); {} = none. The tee
    // must not block and must not log from inside the call.
    static void set_tee(std::function<void(const Fields&)> tee);
    // Every event line (Log::event, not the daemon's messages) is also handed to this one
    // (the OTLP log export); {} = none. The same rules as for the tee.
    static void set_event_tee(std::function<void(const Fields&)> tee);

    // libbpf's own messages (including the verifier log of a failed load) become our lines.
    static void route_libbpf();
};

// The common head of every line: ts, level, msg, v.
Fields log_head(int64_t realtime_ns, Level l, std::string_view text);

} // namespace tif

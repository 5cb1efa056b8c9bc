#include "config/reload.h"

#include <map>

#include "config/config_file.h"
#include "log/clock.h"
#include "log/log.h"

namespace tif {

namespace {
class ReloadCollector : public Collector {
  public:
    explicit ReloadCollector(std::function<std::pair<bool, double>()> read)
        : read_(std::move(read)) {}
    std::string_view name() const override { return "config_reload"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto [ok, ts] = read_();
        auto f = make_family("traceiface_config_last_reload_successful",
                             "Whether the last configuration reload succeeded (1) or not (0).",
                             prometheus::MetricType::Gauge);
        add_sample(f, {}, ok ? 1 : 0);
        out.push_back(std::move(f));
        auto t = make_family("traceiface_config_last_reload_success_timestamp_seconds",
                             "When the configuration was last loaded successfully (start-up "
                             "counts).",
                             prometheus::MetricType::Gauge);
        add_sample(t, {}, ts);
        out.push_back(std::move(t));
        return Ok{};
    }

  private:
    std::function<std::pair<bool, double>()> read_;
};

// "--a.b=1" -> {"a.b", "1"}; the last setting of a key wins, as in parse_options().
std::map<std::string, std::string> settings(const std::vector<std::string>& args) {
    std::map<std::string, std::string> m;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string a = args[i];
        if (!a.starts_with("--"))
            continue;
        auto eq = a.find('=');
        if (eq != std::string::npos)
            m[a.substr(2, eq - 2)] = a.substr(eq + 1);
        else if (i + 1 < args.size() && !args[i + 1].starts_with("--"))
            m[a.substr(2)] = args[++i]; // "--flag value" (bare boolean flags compare as "")
        else
            m[a.substr(2)] = "";
    }
    return m;
}
} // namespace

std::vector<std::string> changed_keys(const std::vector<std::string>& before,
                                      const std::vector<std::string>& after) {
    auto b = settings(before), a = settings(after);
    std::vector<std::string> out;
    for (const auto& [k, v] : a)
        if (auto it = b.find(k); it == b.end() || it->second != v)
            out.push_back(k);
    for (const auto& [k, v] : b)
        if (!a.contains(k))
            out.push_back(k);
    return out;
}

ConfigReloader::ConfigReloader(Options running, const std::vector<ReloadHook>& hooks)
    : running_(std::move(running)), hooks_(hooks), state_(std::make_shared<State>()) {
    state_->success_ts = double(realtime_now_ns()) / 1e9;
    if (auto l = load_config(running_.cli_args))
        running_args_ = l->args;
}

Status ConfigReloader::apply(const Options& next) {
    size_t i = 0;
    for (; i < hooks_.size(); ++i)
        if (auto st = hooks_[i](next); !st) {
            for (size_t j = 0; j <= i; ++j) // roll back, including the hook that failed
                (void)hooks_[j](running_);
            return Error{st.error().err, "apply the new config: " + st.error().what};
        }
    return Ok{};
}

Status ConfigReloader::reload() {
    const std::string& file = running_.config_file;
    auto next = load_config(running_.cli_args);
    Status st = next ? apply(next->opt) : Status(next.error());
    if (!st) {
        state_->ok = false;
        Log::msg(Level::error, "config reload failed; the running configuration stays",
                 Fields{{"file", file}, {"error", st.error().what}});
        return st;
    }
    auto changed = changed_keys(running_args_, next->args);
    running_ = std::move(next->opt);
    running_args_ = std::move(next->args);
    state_->ok = true;
    state_->success_ts = double(realtime_now_ns()) / 1e9;
    Log::msg(Level::info,
             file.empty() ? "config reloaded (no --config.file: flags only)" : "config reloaded",
             Fields{{"file", file}, {"changed", changed}});
    Log::msg(Level::debug, "config in effect", Fields{{"args", running_args_}});
    return Ok{};
}

std::unique_ptr<Collector> ConfigReloader::collector() const {
    return std::make_unique<ReloadCollector>([s = state_] {
        return std::pair<bool, double>{s->ok.load(), s->success_ts.load()};
    });
}

} // namespace tif

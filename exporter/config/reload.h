// Config reload (SIGHUP, POST /-/reload): re-read --config.file with the original command line
// on top, and hand the new options to every hook in DaemonContext::on_reload. A config that
// does not parse is refused and the running one stays; a hook that fails rolls every hook
// back to the running options. Always on the io_context thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/options.h"
#include "core/result.h"
#include "metrics_registry.h"

namespace tif {

using ReloadHook = std::function<Status(const Options&)>;

class ConfigReloader {
  public:
    // `hooks` is read at each reload, so modules may add theirs after this is built.
    ConfigReloader(Options running, const std::vector<ReloadHook>& hooks);

    Status reload();
    const Options& running() const { return running_; }

    // traceiface_config_last_reload_successful, ..._success_timestamp_seconds.
    std::unique_ptr<Collector> collector() const;

  private:
    struct State {
        std::atomic<bool> ok{true};
        std::atomic<double> success_ts{0};
    };
    Status apply(const Options& next);

    Options running_;
    std::vector<std::string> running_args_;
    const std::vector<ReloadHook>& hooks_;
    std::shared_ptr<State> state_;
};

// "key=value" arguments (last one wins) that differ between two argument lists, by key.
std::vector<std::string> changed_keys(const std::vector<std::string>& before,
                                      const std::vector<std::string>& after);

} // namespace tif

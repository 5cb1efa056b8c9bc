// traceiface: per-interface TCP health from eBPF, for Prometheus and Loki.
#include <cstdio>
#include <string>
#include <vector>

#include "commands/cleanup_command.h"
#include "commands/list_command.h"
#include "commands/mount_command.h"
#include "config/config_file.h"
#include "config/options.h"
#include "core/capabilities.h"
#include "daemon.h"
#include "log/log.h"
#include "version.h"

int main(int argc, char** argv) {
    // Permitted-only file capabilities (the image's binary) made effective, for every command.
    if (auto st = tif::raise_permitted_caps(); !st)
        std::fprintf(stderr, "traceiface: %s\n", st.error().message().c_str());
    std::vector<std::string> args(argv + 1, argv + argc);
    if (!args.empty() && args[0] == "list") // subcommands come first; flags are the daemon's
        return tif::run_list_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "cleanup")
        return tif::run_cleanup_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "mount-bpffs")
        return tif::run_mount_bpffs_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "prepare-dirs")
        return tif::run_prepare_dirs_command({args.begin() + 1, args.end()});
    if (!args.empty() && args[0] == "check-config")
        return tif::run_check_config({args.begin() + 1, args.end()});
    auto opt = tif::load_options(args); // the flags, over --config.file's settings
    if (!opt) {
        std::fprintf(stderr, "traceiface: %s\n", opt.error().what.c_str());
        return 2;
    }
    if (opt->help) {
        std::fputs(tif::usage().c_str(), stdout);
        return 0;
    }
    if (opt->version) {
        std::printf("traceiface %s (revision %s)\n", TRACEIFACE_VERSION, TRACEIFACE_REVISION);
        return 0;
    }
    tif::Log::set_min_level(opt->log_level);
    tif::Log::route_libbpf();
    return tif::run_daemon(*opt);
}

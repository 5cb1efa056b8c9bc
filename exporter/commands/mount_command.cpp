#include "commands/mount_command.h"

#include <cstdio>

#include "bpf/pin_store.h"
#include "log/log.h"

namespace tif {

int run_mount_bpffs_command(const std::vector<std::string>& args) {
    if (args.size() > 1 || (!args.empty() && (args[0].empty() || args[0][0] != '/'))) {
        std::fputs("usage: traceiface mount-bpffs [DIR]   (an absolute path; default "
                   "/sys/fs/bpf)\n",
                   stderr);
        return 2;
    }
    const std::string dir = args.empty() ? "/sys/fs/bpf" : args[0];
    auto mounted = mount_bpffs(dir);
    if (!mounted) {
        Log::msg(Level::error, "cannot mount a BPF filesystem",
                 Fields{{"path", dir}, {"error", mounted.error().message()}});
        return 1;
    }
    if (!*mounted)
        Log::msg(Level::info, "a BPF filesystem is already mounted", Fields{{"path", dir}});
    return 0;
}

} // namespace tif

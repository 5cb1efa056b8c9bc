#include "commands/mount_command.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

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

namespace {

// "UID:GID", both decimal.
bool parse_owner(const std::string& s, uid_t& uid, gid_t& gid) {
    unsigned long u = 0, g = 0;
    char extra = 0;
    if (std::sscanf(s.c_str(), "%lu:%lu%c", &u, &g, &extra) != 2 || u > 0xfffffffeUL ||
        g > 0xfffffffeUL || s.find_first_not_of("0123456789:") != std::string::npos)
        return false;
    uid = uid_t(u);
    gid = gid_t(g);
    return true;
}

// mkdir -p: every missing component, mode 0755. Returns 0 or an errno.
int make_dirs(const std::string& dir) {
    for (size_t pos = 1;; ++pos) {
        pos = dir.find('/', pos);
        const std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST)
            return errno;
        if (pos == std::string::npos)
            break;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0)
        return errno;
    return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

} // namespace

int run_prepare_dirs_command(const std::vector<std::string>& args) {
    const auto usage = [] {
        std::fputs("usage: traceiface prepare-dirs --owner=UID:GID DIR...   (absolute paths; "
                   "each made like mkdir -p, then chowned)\n",
                   stderr);
        return 2;
    };
    uid_t uid = 0;
    gid_t gid = 0;
    bool owner = false;
    std::vector<std::string> dirs;
    for (const auto& a : args) {
        if (a.rfind("--owner=", 0) == 0 && parse_owner(a.substr(8), uid, gid))
            owner = true;
        else if (!a.empty() && a[0] == '/')
            dirs.push_back(a);
        else
            return usage();
    }
    if (!owner || dirs.empty())
        return usage();
    int rc = 0;
    for (const auto& dir : dirs) {
        if (int err = make_dirs(dir)) {
            Log::msg(Level::error, "cannot create directory",
                     Fields{{"path", dir}, {"error", std::string(std::strerror(err))}});
            rc = 1;
            continue;
        }
        if (::chown(dir.c_str(), uid, gid) != 0) {
            Log::msg(Level::error, "cannot chown directory",
                     Fields{{"path", dir}, {"error", std::string(std::strerror(errno))}});
            rc = 1;
            continue;
        }
        Log::msg(Level::info, "directory prepared",
                 Fields{{"path", dir}, {"owner", std::to_string(uid) + ":" + std::to_string(gid)}});
    }
    return rc;
}

} // namespace tif

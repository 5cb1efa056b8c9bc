#include "k8s/pod_cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "k8s/cgroup_pod.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace tif {

namespace {

bool is_cgroup2(const std::string& path) {
    struct statfs fs {};
    return !path.empty() && ::statfs(path.c_str(), &fs) == 0 &&
           static_cast<unsigned long>(fs.f_type) == CGROUP2_SUPER_MAGIC;
}

constexpr int kMaxDepth = 10;

// dirfd: an open directory (owned by the caller); rel: its path under the root ("" = root).
void walk(int dirfd, const std::string& rel, int depth, size_t max_dirs, CgroupScan& out) {
    DIR* d = ::fdopendir(::dup(dirfd));
    if (!d)
        return;
    while (dirent* e = ::readdir(d)) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.')
            continue;
        const std::string path = rel + "/" + e->d_name;
        // Below the top two levels only kubepods subtrees (their paths say so at every level).
        if (depth >= 2 && path.find("kubepods") == std::string::npos)
            continue;
        if (out.dirs >= max_dirs) {
            out.truncated = true;
            break;
        }
        int fd = ::openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
            continue; // gone since readdir
        ++out.dirs;
        struct stat st {};
        if (::fstat(fd, &st) == 0)
            if (auto pod = parse_kubepods_path(path))
                out.cgroups.push_back({uint64_t(st.st_ino), pod->pod_uid, pod->container_id});
        if (depth + 1 < kMaxDepth)
            walk(fd, path, depth + 1, max_dirs, out);
        ::close(fd);
        if (out.truncated)
            break;
    }
    ::closedir(d);
}

} // namespace

std::string find_cgroup2_root(const std::string& host_root, const std::string& configured) {
    if (configured != K8S_CGROUP_ROOT_AUTO)
        return is_cgroup2(configured) ? configured : "";
    for (const char* c : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"})
        if (is_cgroup2(host_root + c))
            return host_root + c;
    return "";
}

CgroupScan scan_pod_cgroups(const std::string& root, size_t max_dirs) {
    CgroupScan out;
    int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return out;
    walk(fd, "", 0, max_dirs, out);
    ::close(fd);
    return out;
}

} // namespace tif

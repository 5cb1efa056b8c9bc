#include "commands/cleanup_command.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "bpf/bpf_raii.h"
#include "bpf/pin_store.h"
#include "net/netlink_socket.h"
#include "net/tc_attach.h"
#include "net/tcx_link.h"

namespace tif {

namespace {

const char* kUsage =
    "usage: traceiface cleanup [--bpf.pin-path=DIR] [--all-filters]\n\n"
    "Removes the tcx links and tc filters of the traceiface instances that used DIR\n"
    "(default /sys/fs/bpf/traceiface), the clsact qdiscs that leaves empty, and DIR with its\n"
    "pinned counter maps. --all-filters: also every tc filter at traceiface's\n"
    "handle/priority whose program is named tif_tc_* (instances that ran without pinning).\n"
    "Stop the daemon first.\n";

// The program ids recorded in DIR/tc_stats/prog_ids (see PinStore::swap_prog_ids).
std::set<uint32_t> recorded_ids(const std::string& dir) {
    std::set<uint32_t> ids;
    UniqueFd fd(bpf_obj_get((dir + "/tc_stats/prog_ids").c_str()));
    if (!fd)
        return ids;
    for (uint32_t k = 0;; ++k) {
        uint32_t v = 0;
        if (bpf_map_lookup_elem(fd.get(), &k, &v) != 0)
            break; // past the end
        if (v != 0)
            ids.insert(v);
    }
    return ids;
}

// Unlinks the pins of our object directories and the directories; what else DIR holds stays.
bool remove_pins(const std::string& dir) {
    bool ok = true;
    for (const auto& object : pinned_objects()) {
        const std::string sub = dir + "/" + object;
        DIR* d = ::opendir(sub.c_str());
        if (!d)
            continue;
        while (dirent* e = ::readdir(d)) {
            const std::string name = e->d_name;
            if (name == "." || name == "..")
                continue;
            if (::unlink((sub + "/" + name).c_str()) != 0) {
                std::fprintf(stderr, "traceiface cleanup: %s\n",
                             os_error(errno, "remove " + sub + "/" + name).message().c_str());
                ok = false;
            }
        }
        ::closedir(d);
        if (::rmdir(sub.c_str()) != 0) {
            std::fprintf(stderr, "traceiface cleanup: %s\n",
                         os_error(errno, "remove " + sub).message().c_str());
            ok = false;
        }
    }
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) {
        std::fprintf(stderr, "traceiface cleanup: %s\n",
                     os_error(errno, "remove " + dir).message().c_str());
        ok = false;
    }
    return ok;
}

} // namespace

int run_cleanup_command(const std::vector<std::string>& args) {
    std::string dir = "/sys/fs/bpf/traceiface";
    bool all = false;
    for (const auto& a : args) {
        if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a == "--all-filters") {
            all = true;
        } else if (a.starts_with("--bpf.pin-path=")) {
            dir = a.substr(std::string("--bpf.pin-path=").size());
        } else {
            std::fprintf(stderr, "traceiface cleanup: unknown argument \"%s\"\n%s", a.c_str(),
                         kUsage);
            return 2;
        }
    }
    libbpf_set_print(nullptr); // "no clsact here" is an answer, not an error worth printing
    UniqueFd lock;
    std::set<uint32_t> ids;
    if (!dir.empty()) {
        lock = UniqueFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
            std::fprintf(stderr, "traceiface cleanup: a traceiface daemon uses %s; stop it first\n",
                         dir.c_str());
            return 1;
        }
        if (lock)
            ids = recorded_ids(dir);
    }
    // What tc_query calls ours: recorded ids, and (with --all-filters) names, which tc_query
    // reads itself when it may.
    tc_add_known_ids({ids.begin(), ids.end()});
    auto links = dump_links();
    if (!links) {
        std::fprintf(stderr, "traceiface cleanup: %s\n", links.error().message().c_str());
        return 1;
    }
    bool ok = true;
    size_t removed = 0;
    for (const auto& l : *links) {
        bool here = false;
        for (TcDir d : {TcDir::ingress, TcDir::egress}) {
            auto q = tc_query(int(l.ifindex), d);
            if (!q || !*q || !(*q)->ours)
                continue;
            if (!all && !ids.count((*q)->prog_id))
                continue; // another installation's (another pin directory's) filter
            if (auto st = tc_detach(int(l.ifindex), d, (*q)->prog_id); !st) {
                std::fprintf(stderr, "traceiface cleanup: %s\n", st.error().message().c_str());
                ok = false;
                continue;
            }
            std::printf("removed tc filter %s %s (program %u)\n", l.name.c_str(),
                        std::string(tc_dir_name(d)).c_str(), (*q)->prog_id);
            ++removed;
            here = true;
        }
        if (here)
            (void)tc_remove_clsact_if_empty(int(l.ifindex));
    }
    if (lock) {
        // The links a killed daemon left pinned: detached here, not merely unpinned, in case
        // something else still holds one open.
        for (const auto& p : tcx_pins(dir + "/tc_stats")) {
            if (auto st = tcx_drop_pin(p.path); !st) {
                std::fprintf(stderr, "traceiface cleanup: %s\n", st.error().message().c_str());
                ok = false;
                continue;
            }
            std::string name = "/ifindex-" + std::to_string(p.ifindex);
            for (const auto& l : *links)
                if (l.ifindex == p.ifindex)
                    name = l.name;
            std::printf("removed tcx link %s %s\n", name.c_str(),
                        std::string(tc_dir_name(p.dir)).c_str());
            ++removed;
        }
        if (remove_pins(dir))
            std::printf("removed %s\n", dir.c_str());
        else
            ok = false;
    }
    std::printf("%zu tc filter(s) and link(s) removed\n", removed);
    return ok ? 0 : 1;
}

} // namespace tif

#include "net/iface_liveness.h"

#include <dirent.h>
#include <net/if.h>
#include <sys/stat.h>

#include <cctype>

#include "net/iface_label.h"

namespace tif {

namespace {
void add_inode(std::set<uint32_t>& out, const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0)
        out.insert(uint32_t(st.st_ino));
}

template <class F> void each_entry(const char* dir, F fn) {
    DIR* d = opendir(dir);
    if (!d)
        return;
    while (dirent* e = readdir(d))
        fn(std::string(e->d_name));
    closedir(d);
}
} // namespace

std::set<uint32_t> live_netns_inodes() {
    std::set<uint32_t> out;
    each_entry("/proc", [&](const std::string& n) {
        if (!n.empty() && std::isdigit(static_cast<unsigned char>(n[0])))
            add_inode(out, "/proc/" + n + "/ns/net");
    });
    for (const char* dir : {"/run/netns", "/var/run/netns"})
        each_entry(dir, [&](const std::string& n) {
            if (n != "." && n != "..")
                add_inode(out, std::string(dir) + "/" + n);
        });
    return out;
}

void IfaceLiveness::refresh() {
    std::map<uint32_t, std::string> host;
    if (struct if_nameindex* list = if_nameindex()) {
        for (struct if_nameindex* i = list; i->if_index != 0; ++i)
            host[i->if_index] = i->if_name;
        if_freenameindex(list);
    }
    host_ifaces_ = std::move(host);
    netns_ = live_netns_inodes();
    netns_.insert(host_netns_ino_);
}

bool IfaceLiveness::alive(const tif_iface_ref& ref) const {
    const std::string name = ref_name(ref);
    if (ref.netns_ino == 0 && ref.ifindex == 0 && name.empty())
        return true; // the overflow entry
    if (ref.netns_ino != host_netns_ino_)
        return netns_.count(ref.netns_ino) != 0;
    if (ref.ifindex == 0)
        return true; // host /unknown
    auto it = host_ifaces_.find(ref.ifindex);
    return it != host_ifaces_.end() && (name.empty() || it->second == name);
}

} // namespace tif

#include "net/iface_label.h"

#include <net/if.h>
#include <sys/stat.h>

#include <cstring>

namespace tif {

std::string ref_name(const tif_iface_ref& ref) {
    return std::string(ref.name, strnlen(ref.name, sizeof(ref.name)));
}

std::string iface_label(const tif_iface_ref& ref, uint32_t host_netns_ino,
                        const IfNameLookup& host_name_of) {
    std::string name = ref_name(ref);
    if (ref.netns_ino == 0 && ref.ifindex == 0 && name.empty())
        return "/overflow";
    const bool host = ref.netns_ino == host_netns_ino;
    std::string prefix = host ? "" : "netns-" + std::to_string(ref.netns_ino);
    if (ref.ifindex == 0)
        return prefix + "/unknown";
    if (name.empty() && host && host_name_of)
        name = host_name_of(ref.ifindex).value_or("");
    if (name.empty())
        return prefix + "/ifindex-" + std::to_string(ref.ifindex);
    return host ? name : prefix + "/" + name;
}

std::optional<std::string> host_ifname(uint32_t ifindex) {
    char buf[IF_NAMESIZE] = {};
    if (!if_indextoname(ifindex, buf))
        return std::nullopt;
    return std::string(buf);
}

uint32_t own_netns_ino() {
    struct stat st {};
    if (stat("/proc/self/ns/net", &st) != 0)
        return 0;
    return uint32_t(st.st_ino);
}

} // namespace tif

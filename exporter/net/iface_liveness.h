// Which interface references (tif_iface_ref, as the probes key their maps) still name a live
// interface, refreshed by the interface lifecycle's sweep:
//   - a host reference (netns_ino = ours) is alive while an interface with its ifindex exists
//     and carries its name (an empty name: the ifindex alone); a rename makes the old name dead.
//     ifindex 0 (host "/unknown") is always alive. A container's veth resolved to its host
//     peer is a host reference, alive with that veth.
//   - a reference into another namespace (netns-<inode>/<name>, netns-<inode>/unknown) is alive
//     while that namespace is: some process has it (/proc/<pid>/ns/net) or it is bind-mounted
//     under /run/netns (ip netns). A namespace held only by an open fd or a bind mount we
//     cannot see counts as gone.
//   - the overflow entry (all zero) is always alive.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "iface_ref.h"

namespace tif {

class IfaceLiveness {
  public:
    explicit IfaceLiveness(uint32_t host_netns_ino) : host_netns_ino_(host_netns_ino) {}

    // Re-reads the host's interfaces (if_nameindex) and the live network namespaces.
    void refresh();
    // For tests: the state refresh() would read.
    void set(std::map<uint32_t, std::string> host_ifaces, std::set<uint32_t> netns) {
        host_ifaces_ = std::move(host_ifaces);
        netns_ = std::move(netns);
    }

    bool alive(const tif_iface_ref& ref) const;
    uint32_t host_netns_ino() const { return host_netns_ino_; }

  private:
    uint32_t host_netns_ino_;
    std::map<uint32_t, std::string> host_ifaces_; // ifindex -> name
    std::set<uint32_t> netns_;                    // inodes of live network namespaces
};

// Inodes of the network namespaces some process is in (/proc/[0-9]*/ns/net) or that are
// bind-mounted under /run/netns.
std::set<uint32_t> live_netns_inodes();

} // namespace tif

// The value of the `iface` label (and JSON field) for an interface reference from a probe.
//
// Host interfaces are labelled by their name. Anything the host operator could mistake for a
// host interface gets a label with a '/', which the kernel never allows in an interface name:
//   netns-<inode>/<name>    a device inside another network namespace (not a veth whose peer
//                           is on the host: those are already resolved to the peer in the kernel)
//   /ifindex-<n>            a host device the kernel gave us only an index for, now gone
//   /unknown                no route device (e.g. a SYN-ACK: the kernel keeps no route for it)
//   /overflow               the aggregation map was full; counted here instead of lost
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "iface_ref.h"

namespace tif {

using IfNameLookup = std::function<std::optional<std::string>(uint32_t ifindex)>;

std::string iface_label(const tif_iface_ref& ref, uint32_t host_netns_ino,
                        const IfNameLookup& host_name_of);

// The interface name a probe copied from the kernel, never reading past the field.
std::string ref_name(const tif_iface_ref& ref);

// if_indextoname() in our own namespace.
std::optional<std::string> host_ifname(uint32_t ifindex);

// Inode of the network namespace this process runs in (the "host" namespace for the probes).
uint32_t own_netns_ino();

} // namespace tif

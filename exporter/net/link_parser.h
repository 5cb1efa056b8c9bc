// rtnetlink link messages (RTM_NEWLINK / RTM_DELLINK) turned into plain values. Pure: it only
// reads the bytes it is given, so the unit tests feed it buffers they build themselves.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "core/result.h"

namespace tif {

struct LinkMsg {
    bool deleted = false; // RTM_DELLINK
    // ifi_family AF_BRIDGE: a bridge port's own notification (port state, VLANs). It repeats
    // some of the link's attributes but not all (no IFLA_LINK_NETNSID): never a link's state.
    bool bridge_port_msg = false;
    uint32_t ifindex = 0;
    uint16_t type = 0; // ARPHRD_*: tells how long the L2 header is
    uint32_t flags = 0;
    std::string name;              // IFLA_IFNAME
    uint32_t mtu = 0;              // IFLA_MTU
    uint8_t operstate = 0;         // IFLA_OPERSTATE (IF_OPER_*)
    uint32_t master = 0;           // IFLA_MASTER: the bond/bridge/VRF we are enslaved to, 0 = none
    uint32_t link = 0;             // IFLA_LINK: the lower device (vlan) or the veth peer
    bool link_other_netns = false; // IFLA_LINK_NETNSID present: `link` is an ifindex elsewhere
    int32_t link_netnsid = -1;     // IFLA_LINK_NETNSID: that namespace's id here (RTM_GETNSID)
    std::string kind;              // IFLA_LINKINFO/IFLA_INFO_KIND: "veth", "bond", "vlan", ...
};

// One netlink message header walked by for_each_nlmsg.
struct NlMsgView {
    uint16_t type;
    uint16_t flags;
    uint32_t seq;
    std::span<const std::byte> payload; // after the nlmsghdr
};

// Calls fn for each message in a datagram; an error when a header is truncated or lies about
// its length (the rest of the datagram is then skipped).
Status for_each_nlmsg(std::span<const std::byte> buf,
                      const std::function<void(const NlMsgView&)>& fn);

// Parses the payload (ifinfomsg + attributes) of an RTM_NEWLINK / RTM_DELLINK message.
Result<LinkMsg> parse_link(uint16_t nlmsg_type, std::span<const std::byte> payload);

// Lower-case name of an IF_OPER_* value ("up", "down", "lowerlayerdown", ...).
std::string operstate_name(uint8_t operstate);

// Longest frame an interface of this ARPHRD type and MTU legitimately sends: the MTU plus the
// L2 header and one VLAN tag for Ethernet-like devices (a tagged full-size frame is no error).
uint32_t max_frame_len(uint16_t arphrd_type, uint32_t mtu);

// Bytes before the IP header of a packet at tc on such a device: 14 for Ethernet and loopback,
// 0 for IP tunnels and other devices without an L2 header.
uint32_t l2_header_len(uint16_t arphrd_type);

} // namespace tif

#include "net/link_parser.h"

#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>

namespace tif {

namespace {

template <class T> T read_as(std::span<const std::byte> b) {
    T v{};
    std::memcpy(&v, b.data(), std::min(sizeof(T), b.size()));
    return v;
}

// Calls fn(type, value) for each rtattr in buf; stops quietly at a truncated attribute (the
// kernel never sends one; a malformed tail must not make us read past the buffer).
template <class F> void for_each_attr(std::span<const std::byte> buf, F&& fn) {
    while (buf.size() >= sizeof(rtattr)) {
        auto a = read_as<rtattr>(buf);
        if (a.rta_len < sizeof(rtattr) || a.rta_len > buf.size())
            return;
        fn(uint16_t(a.rta_type & NLA_TYPE_MASK),
           buf.subspan(RTA_LENGTH(0), a.rta_len - RTA_LENGTH(0)));
        size_t step = std::min<size_t>(RTA_ALIGN(a.rta_len), buf.size());
        buf = buf.subspan(step);
    }
}

std::string attr_string(std::span<const std::byte> v) {
    const char* p = reinterpret_cast<const char*>(v.data());
    return std::string(p, strnlen(p, v.size()));
}

} // namespace

Status for_each_nlmsg(std::span<const std::byte> buf,
                      const std::function<void(const NlMsgView&)>& fn) {
    while (buf.size() >= sizeof(nlmsghdr)) {
        auto h = read_as<nlmsghdr>(buf);
        if (h.nlmsg_len < sizeof(nlmsghdr) || h.nlmsg_len > buf.size())
            return Error{EBADMSG, "netlink message length " + std::to_string(h.nlmsg_len) +
                                      " outside the " + std::to_string(buf.size()) +
                                      " bytes received"};
        fn(NlMsgView{h.nlmsg_type, h.nlmsg_flags, h.nlmsg_seq,
                     buf.subspan(NLMSG_HDRLEN, h.nlmsg_len - NLMSG_HDRLEN)});
        buf = buf.subspan(std::min<size_t>(NLMSG_ALIGN(h.nlmsg_len), buf.size()));
    }
    return Ok{};
}

Result<LinkMsg> parse_link(uint16_t nlmsg_type, std::span<const std::byte> payload) {
    if (nlmsg_type != RTM_NEWLINK && nlmsg_type != RTM_DELLINK)
        return Error{EINVAL, "parse link message: type " + std::to_string(nlmsg_type) +
                                 " is neither RTM_NEWLINK nor RTM_DELLINK"};
    const size_t head = NLMSG_ALIGN(sizeof(ifinfomsg));
    if (payload.size() < sizeof(ifinfomsg))
        return Error{EBADMSG, "parse link message: " + std::to_string(payload.size()) +
                                  " bytes, shorter than struct ifinfomsg"};
    auto ifi = read_as<ifinfomsg>(payload);
    LinkMsg m;
    m.deleted = nlmsg_type == RTM_DELLINK;
    m.bridge_port_msg = ifi.ifi_family == AF_BRIDGE;
    m.ifindex = uint32_t(ifi.ifi_index);
    m.type = ifi.ifi_type;
    m.flags = ifi.ifi_flags;
    if (payload.size() <= head)
        return m;
    for_each_attr(payload.subspan(head), [&](uint16_t type, std::span<const std::byte> v) {
        switch (type) {
        case IFLA_IFNAME:
            m.name = attr_string(v);
            break;
        case IFLA_MTU:
            m.mtu = read_as<uint32_t>(v);
            break;
        case IFLA_OPERSTATE:
            m.operstate = read_as<uint8_t>(v);
            break;
        case IFLA_MASTER:
            m.master = read_as<uint32_t>(v);
            break;
        case IFLA_LINK:
            m.link = read_as<uint32_t>(v);
            break;
        case IFLA_LINK_NETNSID:
            m.link_other_netns = true;
            if (v.size() >= sizeof(int32_t))
                m.link_netnsid = read_as<int32_t>(v);
            break;
        case IFLA_LINKINFO:
            for_each_attr(v, [&](uint16_t t, std::span<const std::byte> iv) {
                if (t == IFLA_INFO_KIND)
                    m.kind = attr_string(iv);
            });
            break;
        default:
            break;
        }
    });
    return m;
}

std::string operstate_name(uint8_t s) {
    switch (s) {
    case IF_OPER_UNKNOWN:
        return "unknown";
    case IF_OPER_NOTPRESENT:
        return "notpresent";
    case IF_OPER_DOWN:
        return "down";
    case IF_OPER_LOWERLAYERDOWN:
        return "lowerlayerdown";
    case IF_OPER_TESTING:
        return "testing";
    case IF_OPER_DORMANT:
        return "dormant";
    case IF_OPER_UP:
        return "up";
    default:
        return "state-" + std::to_string(s);
    }
}

uint32_t max_frame_len(uint16_t arphrd_type, uint32_t mtu) {
    // Loopback and Ethernet devices carry a 14-byte Ethernet header (+4 for one 802.1Q tag);
    // IP tunnels and the like have no L2 header in skb->len at tc.
    return mtu + (l2_header_len(arphrd_type) ? l2_header_len(arphrd_type) + 4 : 0);
}

uint32_t l2_header_len(uint16_t arphrd_type) {
    return arphrd_type == ARPHRD_ETHER || arphrd_type == ARPHRD_LOOPBACK ? 14 : 0;
}

} // namespace tif

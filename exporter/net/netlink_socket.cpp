#include "net/netlink_socket.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace tif {

Result<UniqueFd> open_rtnl(bool subscribe, bool nonblock) {
    int type = SOCK_RAW | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0);
    UniqueFd fd(::socket(AF_NETLINK, type, NETLINK_ROUTE));
    if (!fd)
        return os_error(errno, "socket(AF_NETLINK, NETLINK_ROUTE)");
    if (subscribe) {
        // Bursts (hundreds of veths created at once) must not overflow the queue: ask for a
        // large buffer, beyond rmem_max when we may (root), else take what we get.
        int bytes = 8 << 20;
        if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) != 0)
            (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes));
    }
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = subscribe ? RTMGRP_LINK : 0;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0)
        return os_error(errno,
                        subscribe ? "bind netlink socket to RTNLGRP_LINK" : "bind netlink socket");
    return fd;
}

Status request_link_dump(int fd, uint32_t seq) {
    struct {
        nlmsghdr h;
        ifinfomsg ifi;
    } req{};
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    req.h.nlmsg_type = RTM_GETLINK;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = seq;
    req.ifi.ifi_family = AF_UNSPEC;
    sockaddr_nl to{};
    to.nl_family = AF_NETLINK;
    if (::sendto(fd, &req, req.h.nlmsg_len, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to)) < 0)
        return os_error(errno, "send RTM_GETLINK dump request");
    return Ok{};
}

Result<std::vector<LinkMsg>> dump_links() {
    auto fd = open_rtnl(false, false);
    if (!fd)
        return fd.error();
    const uint32_t seq = 1;
    if (auto st = request_link_dump(fd->get(), seq); !st)
        return st.error();
    std::vector<LinkMsg> out;
    std::vector<std::byte> buf(64 * 1024);
    for (bool done = false; !done;) {
        ssize_t n = ::recv(fd->get(), buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return os_error(errno, "read RTM_GETLINK dump");
        }
        Status inner = Ok{};
        auto st = for_each_nlmsg({buf.data(), size_t(n)}, [&](const NlMsgView& m) {
            if (m.seq != seq)
                return;
            if (m.type == NLMSG_DONE) {
                done = true;
            } else if (m.type == NLMSG_ERROR) {
                int err = 0;
                if (m.payload.size() >= sizeof(int))
                    std::memcpy(&err, m.payload.data(), sizeof(int));
                inner = os_error(err, "RTM_GETLINK dump");
                done = true;
            } else if (m.type == RTM_NEWLINK) {
                if (auto l = parse_link(m.type, m.payload))
                    out.push_back(std::move(*l));
            }
        });
        if (!st)
            return st.error();
        if (!inner)
            return inner.error();
    }
    return out;
}

} // namespace tif

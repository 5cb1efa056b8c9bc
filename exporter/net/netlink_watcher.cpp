#include "net/netlink_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include "log/log.h"
#include "net/netlink_socket.h"

namespace tif {

namespace asio = boost::asio;

NetlinkWatcher::NetlinkWatcher(asio::io_context& io, OnChanges on_changes)
    : sock_(io), on_changes_(std::move(on_changes)), buf_(256 * 1024) {}

Result<std::unique_ptr<NetlinkWatcher>> NetlinkWatcher::create(asio::io_context& io,
                                                               OnChanges on_changes) {
    auto fd = open_rtnl(true, true);
    if (!fd)
        return fd.error();
    std::unique_ptr<NetlinkWatcher> w(new NetlinkWatcher(io, std::move(on_changes)));
    w->sock_.assign(fd->release());
    return w;
}

Status NetlinkWatcher::start() {
    if (auto st = begin_dump(); !st)
        return st;
    do_wait();
    return Ok{};
}

void NetlinkWatcher::stop() {
    stopped_ = true;
    boost::system::error_code ec;
    sock_.cancel(ec);
}

Status NetlinkWatcher::begin_dump() {
    // One dump at a time: the kernel refuses a second one on the socket while one runs.
    if (dumping_)
        return Ok{};
    if (auto st = request_link_dump(sock_.native_handle(), ++dump_seq_); !st)
        return st;
    dumping_ = true;
    table_.begin_dump();
    return Ok{};
}

void NetlinkWatcher::do_wait() {
    sock_.async_wait(asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& ec) {
                         if (ec || stopped_)
                             return;
                         read_all();
                         do_wait();
                     });
}

void NetlinkWatcher::read_all() {
    for (;;) {
        ssize_t n = ::recv(sock_.native_handle(), buf_.data(), buf_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return;
            if (errno == ENOBUFS) {
                // Events were dropped: only a fresh dump tells us the truth again.
                ++resyncs_;
                Log::msg(Level::warn, "netlink queue overflowed; dumping links again",
                         Fields{{"resyncs", resyncs_}});
                dumping_ = false;
                if (auto st = begin_dump(); !st)
                    Log::msg(Level::error, "link re-dump failed",
                             Fields{{"error", st.error().message()}});
                continue;
            }
            Log::msg(Level::error, "netlink read failed",
                     Fields{{"error", os_error(errno, "recv on rtnetlink socket").message()}});
            return;
        }
        std::vector<IfaceChange> changes;
        bool dump_done = false;
        auto st = for_each_nlmsg({buf_.data(), size_t(n)}, [&](const NlMsgView& m) {
            if (m.type == NLMSG_DONE && m.seq == dump_seq_) {
                dump_done = true;
            } else if (m.type == NLMSG_ERROR && m.seq == dump_seq_ && dumping_) {
                Log::msg(Level::warn, "link dump answered with an error; retrying");
                dumping_ = false;
                (void)begin_dump();
            } else if (m.type == RTM_NEWLINK || m.type == RTM_DELLINK) {
                auto l = parse_link(m.type, m.payload);
                if (!l) {
                    Log::msg(Level::warn, "bad link message skipped",
                             Fields{{"error", l.error().message()}});
                    return;
                }
                if (l->bridge_port_msg) // the link's own (AF_UNSPEC) messages carry its state
                    return;
                for (auto& c : table_.apply(*l))
                    changes.push_back(std::move(c));
            }
        });
        if (!st)
            Log::msg(Level::warn, "bad netlink datagram skipped",
                     Fields{{"error", st.error().message()}});
        if (dump_done && dumping_) {
            dumping_ = false;
            for (auto& c : table_.end_dump())
                changes.push_back(std::move(c));
        }
        // A dump's end is news even without changes: the table is now complete.
        if (!changes.empty() || dump_done)
            on_changes_(changes, table_);
    }
}

} // namespace tif

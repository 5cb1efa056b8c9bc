// Follows the host's interfaces from rtnetlink on the daemon's io_context: an initial dump,
// then RTM_NEWLINK / RTM_DELLINK multicast events. The socket is a posix::stream_descriptor
// waited on with async_wait, so nothing polls. When the kernel reports that the socket's queue
// overflowed (ENOBUFS: events were lost), it dumps again and drops links the dump lacks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/result.h"
#include "net/iface_table.h"

namespace tif {

class NetlinkWatcher {
  public:
    // Called on the io_context thread with the changes one datagram (or a dump's end) caused.
    using OnChanges = std::function<void(const std::vector<IfaceChange>&, const IfaceTable&)>;

    static Result<std::unique_ptr<NetlinkWatcher>> create(boost::asio::io_context& io,
                                                          OnChanges on_changes);
    NetlinkWatcher(const NetlinkWatcher&) = delete;
    NetlinkWatcher& operator=(const NetlinkWatcher&) = delete;

    Status start(); // requests the initial dump and starts waiting
    void stop();
    const IfaceTable& table() const { return table_; }
    uint64_t resyncs() const { return resyncs_; }

  private:
    NetlinkWatcher(boost::asio::io_context& io, OnChanges on_changes);
    void do_wait();
    void read_all();
    Status begin_dump();

    boost::asio::posix::stream_descriptor sock_;
    OnChanges on_changes_;
    IfaceTable table_;
    uint32_t dump_seq_ = 0;
    bool dumping_ = false;
    bool stopped_ = false;
    uint64_t resyncs_ = 0;
    std::vector<std::byte> buf_;
};

} // namespace tif

// The span-context server: a SOCK_SEQPACKET Unix socket on which applications bind trace
// context to TCP connections they own (proto/span_context.proto, one frame per datagram, the
// TCP socket passed as SCM_RIGHTS). Served on the daemon's io_context on a strand of its own,
// so a flood of frames never holds up a ring-buffer reader or a scrape; every client is
// checked against the uid/gid allow-list (SO_PEERCRED) and rate-limited.
#pragma once

#include "span/seqpacket_protocol.h"
#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <list>
#include <memory>
#include <string_view>

#include "config/span_options.h"
#include "core/result.h"
#include "metrics_registry.h"
#include "span/span_table.h"

namespace tif {

enum class SpanResult : uint8_t { ok, malformed, oversize, unauthorized, spoofed, rate_limited };
inline constexpr size_t SPAN_RESULTS = 6;
std::string_view span_result_name(SpanResult r);

struct SpanCounters {
    std::array<std::atomic<uint64_t>, SPAN_RESULTS> frames{};
    std::atomic<uint64_t> clients{0};
    void add(SpanResult r) { frames[size_t(r)].fetch_add(1, std::memory_order_relaxed); }
};

class SpanServer {
  public:
    using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

    static Result<std::unique_ptr<SpanServer>>
    start(boost::asio::io_context& io, const SpanOptions& opt, std::shared_ptr<SpanTable> table);
    ~SpanServer();
    // Closes the socket and every client, removes the path. On the io_context thread only.
    void stop();

    const SpanCounters& counters() const { return counters_; }
    // Reload: a new uid/gid allow-list. Connected clients it no longer allows are dropped.
    void set_allow_list(std::vector<uid_t> uids, std::vector<gid_t> gids);

  private:
    struct Client;
    SpanServer(boost::asio::io_context& io, const SpanOptions& opt,
               std::shared_ptr<SpanTable> table);
    Status listen();
    void do_accept();
    void on_accept(SeqPacketProtocol::socket s);
    void do_read(std::list<Client>::iterator c);
    bool read_some(Client& c); // false: the client is gone
    SpanResult handle(Client& c, const uint8_t* data, size_t n, int msg_flags, const int* fds,
                      size_t nfds);
    bool take_token(Client& c);
    // Root, our own uid, --span.allow-uids, or a member (effective or supplementary group) of
    // --span.allow-gids or of the socket file's group: the group that mode 0660 lets connect
    // is let bind too (a pod joins it with supplementalGroups).
    bool allowed(uid_t uid, const std::vector<gid_t>& gids) const;
    void do_sweep();

    SpanOptions opt_;
    std::shared_ptr<SpanTable> table_;
    Strand strand_;
    SeqPacketProtocol::acceptor acceptor_;
    boost::asio::steady_timer sweep_timer_;
    std::list<Client> clients_;
    SpanCounters counters_;
    uid_t own_uid_;
    ino_t socket_ino_ = 0;
    gid_t socket_gid_ = gid_t(-1);
    bool stopped_ = false;
};

// traceiface_span_frames_total{result}, traceiface_span_bindings, traceiface_span_clients.
class SpanCollector : public Collector {
  public:
    SpanCollector(const SpanCounters* counters, std::shared_ptr<SpanTable> table)
        : counters_(counters), table_(std::move(table)) {}
    std::string_view name() const override { return "span"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    const SpanCounters* counters_; // null when the socket is off
    std::shared_ptr<SpanTable> table_;
};

} // namespace tif

#include "span/span_server.h"

#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "log/log.h"

namespace tif {

namespace asio = boost::asio;
using seqpacket = SeqPacketProtocol;

namespace {
constexpr int FRAMES_PER_WAKEUP = 64; // then the other clients get their turn
constexpr size_t MAX_FDS = 8;         // more in one frame: the kernel drops them (MSG_CTRUNC)

Result<gid_t> resolve_group(const std::string& g) {
    if (!g.empty() && std::all_of(g.begin(), g.end(), ::isdigit))
        return gid_t(std::stoul(g));
    group gr{}, *res = nullptr;
    std::vector<char> buf(16384);
    if (getgrnam_r(g.c_str(), &gr, buf.data(), buf.size(), &res) != 0 || !res)
        return Error{ENOENT, "--span.socket-group: no such group \"" + g + "\""};
    return gr.gr_gid;
}

std::string mode_octal(uint32_t m) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%04o", m);
    return buf;
}

int sockopt_int(int fd, int opt) {
    int v = -1;
    socklen_t len = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, opt, &v, &len) == 0 ? v : -1;
}
} // namespace

std::string_view span_result_name(SpanResult r) {
    static constexpr std::array<std::string_view, SPAN_RESULTS> names = {
        "ok", "malformed", "oversize", "unauthorized", "spoofed", "rate_limited"};
    return names[size_t(r)];
}

struct SpanServer::Client {
    explicit Client(seqpacket::socket s) : sock(std::move(s)) {}
    seqpacket::socket sock;
    ucred cred{};
    std::vector<gid_t> groups; // effective and supplementary, at connect (SO_PEERGROUPS)
    double tokens = 0;
    std::chrono::steady_clock::time_point refilled{};
};

SpanServer::SpanServer(asio::io_context& io, const SpanOptions& opt,
                       std::shared_ptr<SpanTable> table)
    : opt_(opt), table_(std::move(table)), strand_(asio::make_strand(io)), acceptor_(strand_),
      sweep_timer_(strand_), own_uid_(geteuid()) {}

SpanServer::~SpanServer() {
    stop();
}

Result<std::unique_ptr<SpanServer>> SpanServer::start(asio::io_context& io, const SpanOptions& opt,
                                                      std::shared_ptr<SpanTable> table) {
    std::unique_ptr<SpanServer> s(new SpanServer(io, opt, std::move(table)));
    if (auto st = s->listen(); !st)
        return st.error();
    asio::post(s->strand_, [p = s.get()] {
        p->do_accept();
        p->do_sweep();
    });
    return s;
}

Status SpanServer::listen() {
    namespace fs = std::filesystem;
    const std::string& path = opt_.socket_path;
    std::error_code ec;
    fs::path dir = fs::path(path).parent_path();
    if (!fs::exists(dir, ec)) {
        fs::create_directories(dir, ec);
        if (ec)
            return os_error(ec.value(), "create directory " + dir.string());
        ::chmod(dir.c_str(), 0755);
    }
    // A socket file left by a daemon that died is removed; one that answers is not ours.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return Error{EEXIST, "--span.socket: " + path + " exists and is not a socket"};
        seqpacket::socket probe(strand_);
        boost::system::error_code cec;
        probe.connect(seqpacket::endpoint(path), cec);
        if (!cec)
            return Error{EADDRINUSE, "--span.socket: another process serves " + path};
        ::unlink(path.c_str());
    }
    boost::system::error_code bec;
    acceptor_.open(seqpacket(), bec);
    if (!bec)
        acceptor_.bind(seqpacket::endpoint(path), bec);
    if (bec)
        return os_error(bec.value(), "bind span socket " + path);
    // Mode and group are set before listen(): until then every connect is refused.
    if (::chmod(path.c_str(), opt_.socket_mode) != 0)
        return os_error(errno, "chmod span socket " + path);
    if (!opt_.socket_group.empty()) {
        auto gid = resolve_group(opt_.socket_group);
        if (!gid)
            return gid.error();
        if (::chown(path.c_str(), uid_t(-1), *gid) != 0)
            return os_error(errno, "chown span socket " + path + " to group " + opt_.socket_group);
    }
    if (::lstat(path.c_str(), &st) == 0) {
        socket_ino_ = st.st_ino;
        socket_gid_ = st.st_gid;
    }
    acceptor_.listen(seqpacket::acceptor::max_listen_connections, bec);
    if (bec)
        return os_error(bec.value(), "listen on span socket " + path);
    Log::msg(Level::info, "span socket listening",
             Fields{{"path", path},
                    {"mode", mode_octal(opt_.socket_mode)},
                    {"group", opt_.socket_group},
                    {"allow_uids", opt_.allow_uids},
                    {"allow_gids", opt_.allow_gids},
                    {"max_clients", opt_.max_clients},
                    {"client_rate", opt_.client_rate}});
    return Ok{};
}

// Runs on the io_context's thread (the daemon's signal handler) or after it stopped: the
// daemon runs the io_context on one thread, so nothing on the strand runs concurrently.
void SpanServer::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    sweep_timer_.cancel();
    for (auto& c : clients_)
        c.sock.close(ec);
    struct stat st {};
    if (::lstat(opt_.socket_path.c_str(), &st) == 0 && st.st_ino == socket_ino_)
        ::unlink(opt_.socket_path.c_str());
}

void SpanServer::set_allow_list(std::vector<uid_t> uids, std::vector<gid_t> gids) {
    // opt_ and clients_ belong to the strand; the reload runs elsewhere on the io_context.
    asio::post(strand_, [this, uids = std::move(uids), gids = std::move(gids)]() mutable {
        opt_.allow_uids = std::move(uids);
        opt_.allow_gids = std::move(gids);
        boost::system::error_code ec;
        for (auto& c : clients_)
            if (!allowed(c.cred.uid, c.groups))
                c.sock.cancel(ec); // its pending wait ends with an error: do_read drops it
    });
}

bool SpanServer::allowed(uid_t uid, const std::vector<gid_t>& gids) const {
    if (uid == 0 || uid == own_uid_)
        return true;
    if (std::find(opt_.allow_uids.begin(), opt_.allow_uids.end(), uid) != opt_.allow_uids.end())
        return true;
    return std::any_of(gids.begin(), gids.end(), [this](gid_t g) {
        return g == socket_gid_ || std::find(opt_.allow_gids.begin(), opt_.allow_gids.end(), g) !=
                                       opt_.allow_gids.end();
    });
}

namespace {
// The peer's effective gid and its supplementary groups (SO_PEERGROUPS, Linux 4.13), as they
// were when it connected. A failure leaves the effective gid alone.
std::vector<gid_t> peer_groups(int fd, gid_t egid) {
    std::vector<gid_t> g(32);
    socklen_t len = socklen_t(g.size() * sizeof(gid_t));
    int r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g.data(), &len);
    if (r != 0 && errno == ERANGE) { // len now says how much it needs
        g.resize(len / sizeof(gid_t));
        len = socklen_t(g.size() * sizeof(gid_t));
        r = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g.data(), &len);
    }
    g.resize(r == 0 ? len / sizeof(gid_t) : 0);
    g.push_back(egid);
    return g;
}
} // namespace

void SpanServer::do_accept() {
    acceptor_.async_accept(strand_, [this](boost::system::error_code ec, seqpacket::socket s) {
        if (stopped_ || ec == asio::error::operation_aborted)
            return;
        if (!ec)
            on_accept(std::move(s));
        do_accept();
    });
}

void SpanServer::on_accept(seqpacket::socket s) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    SpanResult refused = SpanResult::ok;
    std::vector<gid_t> groups;
    if (getsockopt(s.native_handle(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
        !allowed(cred.uid, groups = peer_groups(s.native_handle(), cred.gid)))
        refused = SpanResult::unauthorized;
    else if (clients_.size() >= opt_.max_clients)
        refused = SpanResult::rate_limited;
    if (refused != SpanResult::ok) {
        counters_.add(refused);
        Log::msg(Level::debug, "span client refused",
                 Fields{{"result", span_result_name(refused)},
                        {"uid", cred.uid},
                        {"gid", cred.gid},
                        {"pid", cred.pid}});
        return; // `s` closes
    }
    s.non_blocking(true);
    auto it = clients_.emplace(clients_.end(), std::move(s));
    it->cred = cred;
    it->groups = std::move(groups);
    it->tokens = opt_.client_rate;
    it->refilled = std::chrono::steady_clock::now();
    counters_.clients.store(clients_.size(), std::memory_order_relaxed);
    do_read(it);
}

void SpanServer::do_read(std::list<Client>::iterator c) {
    c->sock.async_wait(seqpacket::socket::wait_read, [this, c](boost::system::error_code ec) {
        if (stopped_)
            return;
        if (ec || !read_some(*c)) {
            clients_.erase(c); // closes the socket
            counters_.clients.store(clients_.size(), std::memory_order_relaxed);
            return;
        }
        // More may be queued: go round through the io_context so other clients interleave.
        do_read(c);
    });
}

bool SpanServer::take_token(Client& c) {
    if (opt_.client_rate == 0)
        return true;
    auto now = std::chrono::steady_clock::now();
    std::chrono::duration<double> dt = now - c.refilled;
    c.refilled = now;
    c.tokens = std::min<double>(opt_.client_rate, c.tokens + dt.count() * opt_.client_rate);
    if (c.tokens < 1)
        return false;
    c.tokens -= 1;
    return true;
}

bool SpanServer::read_some(Client& c) {
    uint8_t buf[SPAN_FRAME_MAX_BYTES + 1];
    alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int) * MAX_FDS)];
    for (int i = 0; i < FRAMES_PER_WAKEUP; ++i) {
        iovec iov{buf, sizeof(buf)};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof(ctl);
        ssize_t n = ::recvmsg(c.sock.native_handle(), &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        // Every passed fd is owned here and closed when this frame is done, whatever it was.
        std::vector<UniqueFd> owned;
        std::vector<int> fds;
        for (cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
            if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t j = 0; j < k; ++j) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(h) + j * sizeof(int), sizeof(int));
                owned.emplace_back(fd);
                fds.push_back(fd);
            }
        }
        if (n == 0 && fds.empty() && !(m.msg_flags & MSG_TRUNC))
            return false; // end of stream (an empty datagram reads the same and is no frame)
        SpanResult r = take_token(c)
                           ? handle(c, buf, size_t(n), m.msg_flags, fds.data(), fds.size())
                           : SpanResult::rate_limited;
        counters_.add(r);
        if (r != SpanResult::ok && Log::enabled(Level::debug))
            Log::msg(Level::debug, "span frame refused",
                     Fields{{"result", span_result_name(r)},
                            {"uid", c.cred.uid},
                            {"pid", c.cred.pid},
                            {"bytes", n},
                            {"fds", fds.size()}});
    }
    return true;
}

SpanResult SpanServer::handle(Client&, const uint8_t* data, size_t n, int msg_flags, const int* fds,
                              size_t nfds) {
    if ((msg_flags & MSG_TRUNC) || n > SPAN_FRAME_MAX_BYTES)
        return SpanResult::oversize;
    SpanFrame f;
    switch (decode_span_frame({data, n}, f)) {
    case SpanDecode::oversize:
        return SpanResult::oversize;
    case SpanDecode::malformed:
        return SpanResult::malformed;
    case SpanDecode::ok:
        break;
    }
    // Ownership: exactly one passed fd, a TCP socket, whose cookie the frame may restate.
    if ((msg_flags & MSG_CTRUNC) || nfds > 1)
        return SpanResult::malformed;
    if (nfds == 0)
        return SpanResult::spoofed;
    const int fd = fds[0];
    const int domain = sockopt_int(fd, SO_DOMAIN);
    if ((domain != AF_INET && domain != AF_INET6) || sockopt_int(fd, SO_TYPE) != SOCK_STREAM ||
        sockopt_int(fd, SO_PROTOCOL) != IPPROTO_TCP)
        return SpanResult::spoofed;
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0 || cookie == 0)
        return SpanResult::spoofed;
    if (f.sock_cookie != 0 && f.sock_cookie != cookie)
        return SpanResult::spoofed;
    Status st =
        f.op == SpanOp::bind ? table_->bind(cookie, f, opt_.ttl_ns) : table_->unbind(cookie);
    if (!st) {
        Log::msg(Level::warn, "span binding failed", Fields{{"error", st.error().message()}});
        return SpanResult::malformed;
    }
    return SpanResult::ok;
}

void SpanServer::do_sweep() {
    auto period = std::chrono::nanoseconds(
        std::clamp<uint64_t>(opt_.ttl_ns / 4, 1'000'000'000, 15'000'000'000));
    sweep_timer_.expires_after(period);
    sweep_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || stopped_)
            return;
        if (auto r = table_->sweep(); !r)
            Log::msg(Level::warn, "span binding sweep failed",
                     Fields{{"error", r.error().message()}});
        do_sweep();
    });
}

} // namespace tif

// A test and bench client of the span-context socket (clients/cpp/traceiface_span.h):
//   sink PORT                           accept TCP connections and discard what they send
//   upload SOCK IP PORT SECS TRACE SPAN NAME
//                                       connect, bind the trace to the connection, send for SECS
//   raw SOCK HEX|@big|@empty|@bind FD [COUNT]
//                                       send a raw frame; FD: tcp, none, unix, two, cookie
//                                       (cookie: a bind frame restating a wrong sock_cookie;
//                                       SPAN_TOOL_DELAY_MS: wait between connect and send)
//   flood SOCK CLIENTS FRAMES           CLIENTS connections, FRAMES valid frames each, no waiting
//   rawrate SECS                        frames/s through a bare SOCK_SEQPACKET pair (+fd)
//   bench SOCK SECS THREADS             send valid bind frames as fast as the server takes them
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "traceiface_span.h"

using namespace traceiface;
using Clock = std::chrono::steady_clock;

namespace {
[[noreturn]] void die(const std::string& m) {
    std::fprintf(stderr, "span_client_tool: %s\n", m.c_str());
    std::exit(2);
}

const std::array<uint8_t, 16> TRACE = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
                                       0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
const std::array<uint8_t, 8> SPAN = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};

int tcp_socket() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket AF_INET");
    return fd;
}

std::string unhex(const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(char(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

void connect_or_die(SpanClient& c, const std::string& path) {
    if (int e = c.connect(path); e != 0)
        die("connect " + path + ": " + std::strerror(-e));
}

int sink(int port) {
    int l = tcp_socket(), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(l, 16) != 0)
        die("listen on port " + std::to_string(port));
    std::printf("listening\n");
    std::fflush(stdout);
    for (;;) {
        int c = ::accept(l, nullptr, nullptr);
        if (c < 0)
            continue;
        std::thread([c] {
            char buf[65536];
            while (::read(c, buf, sizeof(buf)) > 0) {
            }
            ::close(c);
        }).detach();
    }
}

int upload(const std::string& sock, const std::string& ip, int port, int secs,
           const std::string& trace, const std::string& span, const std::string& name) {
    std::array<uint8_t, 16> t{};
    std::array<uint8_t, 8> s{};
    if (!parse_hex_id(trace, t) || !parse_hex_id(span, s))
        die("trace id: 32 hex digits, span id: 16");
    int fd = tcp_socket();
    // BBR keeps sending into the tbf loss (see retransmit_lib.sh); best effort.
    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, "bbr", 3);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0)
        die("connect " + ip + ":" + std::to_string(port) + ": " + std::strerror(errno));
    SpanClient c;
    connect_or_die(c, sock);
    if (int e = c.bind(fd, t, s, 1, name); e != 0)
        die(std::string("bind: ") + std::strerror(-e));
    uint64_t cookie = 0;
    socklen_t len = sizeof(cookie);
    getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len);
    std::printf("cookie %llu\n", (unsigned long long)cookie);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::milliseconds(300)); // the server binds meanwhile
    static char buf[65536] = {};
    auto end = Clock::now() + std::chrono::seconds(secs);
    while (Clock::now() < end)
        if (::send(fd, buf, sizeof(buf), MSG_NOSIGNAL) < 0)
            die(std::string("send: ") + std::strerror(errno));
    ::close(fd); // no unbind: the binding dies with the socket
    return 0;
}

int raw(const std::string& sock, const std::string& what, const std::string& fdkind, int count) {
    std::string frame = what == "@big" ? std::string(600, '\x08')
                        : what == "@bind"
                            ? encode_span_frame(SpanOp::bind, &TRACE, &SPAN, 1, "good")
                        : what == "@empty" ? std::string()
                                           : unhex(what);
    int fds[2] = {-1, -1};
    if (fdkind == "tcp" || fdkind == "cookie")
        fds[0] = tcp_socket();
    else if (fdkind == "unix")
        socketpair(AF_UNIX, SOCK_STREAM, 0, fds);
    else if (fdkind == "two")
        fds[0] = tcp_socket(), fds[1] = tcp_socket();
    if (fdkind == "cookie")
        frame = encode_span_frame(SpanOp::bind, &TRACE, &SPAN, 1, "spoof", 0xfeedfacecafeULL);
    SpanClient c;
    connect_or_die(c, sock);
    if (const char* d = std::getenv("SPAN_TOOL_DELAY_MS")) // connected first, frames later
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(d)));
    int errors = 0;
    for (int i = 0; i < count; ++i) {
        int rc;
        if (fdkind == "two") { // two fds in one SCM_RIGHTS message
            iovec iov{frame.data(), frame.size()};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            alignas(cmsghdr) char ctl[CMSG_SPACE(2 * sizeof(int))] = {};
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            cmsghdr* h = CMSG_FIRSTHDR(&m);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(2 * sizeof(int));
            std::memcpy(CMSG_DATA(h), fds, sizeof(fds));
            rc = ::sendmsg(c.fd(), &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
        } else {
            rc = c.send_frame(frame, fdkind == "none" ? -1 : fds[0]);
        }
        errors += rc != 0;
    }
    std::printf("sent %d errors %d\n", count - errors, errors);
    return 0;
}

int flood(const std::string& sock, int clients, int frames) {
    std::string f = encode_span_frame(SpanOp::bind, &TRACE, &SPAN, 1, "flood");
    int fd = tcp_socket();
    std::vector<std::unique_ptr<SpanClient>> cs;
    int refused = 0;
    long sent = 0;
    for (int i = 0; i < clients; ++i) {
        cs.push_back(std::make_unique<SpanClient>());
        refused += cs.back()->connect(sock) != 0;
    }
    for (int j = 0; j < frames; ++j)
        for (auto& c : cs)
            if (c->fd() >= 0 && c->send_frame(f, fd) == 0)
                ++sent;
    std::printf("clients %d connect_refused %d sent %ld\n", clients, refused, sent);
    return 0;
}

double rawrate(int secs) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) != 0)
        die("socketpair");
    std::atomic<bool> done{false};
    std::atomic<long> got{0};
    std::thread rx([&] {
        char buf[513];
        alignas(cmsghdr) char ctl[CMSG_SPACE(8 * sizeof(int))];
        while (!done) {
            iovec iov{buf, sizeof(buf)};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            ssize_t n = ::recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC);
            if (n <= 0)
                break;
            for (cmsghdr* h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(h), sizeof(fd));
                ::close(fd);
            }
            ++got;
        }
    });
    SpanClient c; // only for send_frame on the pair's end
    std::string f = encode_span_frame(SpanOp::bind, &TRACE, &SPAN, 1, "bench");
    int tcp = tcp_socket();
    auto t0 = Clock::now(), end = t0 + std::chrono::seconds(secs);
    while (Clock::now() < end)
        for (int i = 0; i < 256; ++i) {
            iovec iov{f.data(), f.size()};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            cmsghdr* h = CMSG_FIRSTHDR(&m);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(h), &tcp, sizeof(int));
            ::sendmsg(sv[0], &m, MSG_NOSIGNAL);
        }
    std::chrono::duration<double> dt = Clock::now() - t0;
    done = true;
    ::shutdown(sv[0], SHUT_RDWR);
    rx.join();
    return double(got) / dt.count();
}

int bench(const std::string& sock, int secs, int threads) {
    std::atomic<long> sent{0};
    std::vector<std::thread> ts;
    auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            SpanClient c;
            connect_or_die(c, sock);
            int fd = tcp_socket();
            std::string f = encode_span_frame(SpanOp::bind, &TRACE, &SPAN, 1, "bench");
            auto end = Clock::now() + std::chrono::seconds(secs);
            long n = 0;
            while (Clock::now() < end)
                for (int i = 0; i < 64; ++i)
                    n += c.send_frame(f, fd) == 0; // blocks while the server is behind
            sent += n;
        });
    for (auto& t : ts)
        t.join();
    std::chrono::duration<double> dt = Clock::now() - t0;
    std::printf("sent %ld seconds %.3f\n", sent.load(), dt.count());
    return 0;
}
} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> a(argv + 1, argv + argc);
    auto need = [&](size_t n) {
        if (a.size() < n)
            die("missing arguments (see the comment at the top of span_client_tool.cpp)");
    };
    need(1);
    if (a[0] == "sink" && (need(2), true))
        return sink(std::stoi(a[1]));
    if (a[0] == "upload" && (need(8), true))
        return upload(a[1], a[2], std::stoi(a[3]), std::stoi(a[4]), a[5], a[6], a[7]);
    if (a[0] == "raw" && (need(4), true))
        return raw(a[1], a[2], a[3], a.size() > 4 ? std::stoi(a[4]) : 1);
    if (a[0] == "flood" && (need(4), true))
        return flood(a[1], std::stoi(a[2]), std::stoi(a[3]));
    if (a[0] == "rawrate" && (need(2), true)) {
        std::printf("raw_fps %.0f\n", rawrate(std::stoi(a[1])));
        return 0;
    }
    if (a[0] == "bench" && (need(4), true))
        return bench(a[1], std::stoi(a[2]), std::stoi(a[3]));
    die("unknown mode " + a[0]);
}

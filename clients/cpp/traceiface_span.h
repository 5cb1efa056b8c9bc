// traceiface span-context client, header-only (C++17, Linux). Tells a local traceiface which
// trace and span are using which TCP connection, so the kernel's retransmit events of that
// connection carry the trace id:
//
//   traceiface::SpanClient c;
//   if (c.connect() == 0) {                       // default /run/traceiface/span.sock
//       c.bind(tcp_fd, trace_id, span_id, 0x01, "user.GetProfile");
//       ... the request ...
//       c.unbind(tcp_fd);                          // or just close tcp_fd
//   }
//
// Frames follow proto/span_context.proto; the TCP socket itself travels as SCM_RIGHTS, which
// is the proof that this process owns it. Nothing is answered: refusals are counted by the
// exporter in traceiface_span_frames_total{result}. Calls return 0 or -errno.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace traceiface {

inline constexpr const char* SPAN_SOCKET_DEFAULT = "/run/traceiface/span.sock";
enum class SpanOp : uint8_t { bind = 1, unbind = 2 };

// Protobuf encoding of one frame (field numbers from proto/span_context.proto).
class SpanFrameWriter {
  public:
    void varint_field(uint32_t field, uint64_t v) {
        varint(uint64_t(field) << 3 | 0);
        varint(v);
    }
    void bytes_field(uint32_t field, const void* data, size_t n) {
        varint(uint64_t(field) << 3 | 2);
        varint(n);
        buf_.append(static_cast<const char*>(data), n);
    }
    const std::string& bytes() const { return buf_; }

  private:
    void varint(uint64_t v) {
        while (v >= 0x80) {
            buf_.push_back(char(v | 0x80));
            v >>= 7;
        }
        buf_.push_back(char(v));
    }
    std::string buf_;
};

inline std::string encode_span_frame(SpanOp op, const std::array<uint8_t, 16>* trace_id,
                                     const std::array<uint8_t, 8>* span_id, uint8_t flags,
                                     std::string_view name, uint64_t sock_cookie = 0) {
    SpanFrameWriter w;
    w.varint_field(1, uint8_t(op));
    if (trace_id)
        w.bytes_field(2, trace_id->data(), trace_id->size());
    if (span_id)
        w.bytes_field(3, span_id->data(), span_id->size());
    if (flags)
        w.varint_field(4, flags);
    if (!name.empty())
        w.bytes_field(5, name.data(), name.size());
    if (sock_cookie)
        w.varint_field(6, sock_cookie);
    return w.bytes();
}

class SpanClient {
  public:
    SpanClient() = default;
    SpanClient(const SpanClient&) = delete;
    SpanClient& operator=(const SpanClient&) = delete;
    ~SpanClient() { close(); }

    int connect(const std::string& path = SPAN_SOCKET_DEFAULT) {
        close();
        sockaddr_un a{};
        if (path.size() >= sizeof(a.sun_path))
            return -ENAMETOOLONG;
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, path.data(), path.size());
        fd_ = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd_ < 0)
            return -errno;
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
            int e = errno;
            close();
            return -e;
        }
        return 0;
    }
    void close() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }
    int fd() const { return fd_; }

    // Binds (or re-binds) the trace context to the TCP socket `tcp_fd`. name: <= 32 bytes of
    // printable ASCII.
    int bind(int tcp_fd, const std::array<uint8_t, 16>& trace_id,
             const std::array<uint8_t, 8>& span_id, uint8_t flags = 1, std::string_view name = {}) {
        return send_frame(encode_span_frame(SpanOp::bind, &trace_id, &span_id, flags, name),
                          tcp_fd);
    }
    int unbind(int tcp_fd) {
        return send_frame(encode_span_frame(SpanOp::unbind, nullptr, nullptr, 0, {}), tcp_fd);
    }

    // One datagram, with `pass_fd` as SCM_RIGHTS unless it is negative.
    int send_frame(std::string_view frame, int pass_fd) {
        iovec iov{const_cast<char*>(frame.data()), frame.size()};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
        if (pass_fd >= 0) {
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            cmsghdr* c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int));
            std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
        }
        if (::sendmsg(fd_, &m, MSG_NOSIGNAL) < 0)
            return -errno;
        return 0;
    }

  private:
    int fd_ = -1;
};

// Lower-case hex of 16 or 8 bytes to bytes; false on anything else.
template <size_t N> bool parse_hex_id(std::string_view hex, std::array<uint8_t, N>& out) {
    if (hex.size() != 2 * N)
        return false;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < N; ++i) {
        int hi = nib(hex[2 * i]), lo = nib(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = uint8_t(hi << 4 | lo);
    }
    return true;
}

} // namespace traceiface

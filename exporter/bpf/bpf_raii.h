// One non-copyable owner per kernel object: a skeleton (its programs, maps and links), a ring
// buffer, a file descriptor. Destruction detaches and closes; nothing is left to chance.
#pragma once

#include <bpf/libbpf.h>
#include <unistd.h>

#include <utility>

namespace tif {

class UniqueFd {
  public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }

    int get() const { return fd_; }
    int release() { return std::exchange(fd_, -1); }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

// Owns a bpftool-generated skeleton `Skel` (C++ skeletons have static open/load/attach/destroy).
template <class Skel> class BpfSkeleton {
  public:
    BpfSkeleton() = default;
    explicit BpfSkeleton(Skel* s) : s_(s) {}
    BpfSkeleton(BpfSkeleton&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    BpfSkeleton& operator=(BpfSkeleton&& o) noexcept {
        if (this != &o) {
            reset();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    BpfSkeleton(const BpfSkeleton&) = delete;
    BpfSkeleton& operator=(const BpfSkeleton&) = delete;
    ~BpfSkeleton() { reset(); }

    Skel* get() const { return s_; }
    Skel* operator->() const { return s_; }
    explicit operator bool() const { return s_ != nullptr; }
    void reset() {
        if (s_)
            Skel::destroy(s_); // detaches every link, closes every map and program
        s_ = nullptr;
    }

  private:
    Skel* s_ = nullptr;
};

class RingBufferOwner {
  public:
    RingBufferOwner() = default;
    explicit RingBufferOwner(ring_buffer* rb) : rb_(rb) {}
    RingBufferOwner(RingBufferOwner&& o) noexcept : rb_(std::exchange(o.rb_, nullptr)) {}
    RingBufferOwner& operator=(RingBufferOwner&& o) noexcept {
        if (this != &o) {
            reset();
            rb_ = std::exchange(o.rb_, nullptr);
        }
        return *this;
    }
    RingBufferOwner(const RingBufferOwner&) = delete;
    RingBufferOwner& operator=(const RingBufferOwner&) = delete;
    ~RingBufferOwner() { reset(); }

    ring_buffer* get() const { return rb_; }
    void reset() {
        if (rb_)
            ring_buffer__free(rb_);
        rb_ = nullptr;
    }

  private:
    ring_buffer* rb_ = nullptr;
};

} // namespace tif

// Drains one BPF ring buffer from the io_context: the ring buffer's epoll fd is wrapped in a
// posix::stream_descriptor and async_wait()ed on, then ring_buffer__consume() reads everything
// that is there. No busy polling and no thread per buffer. A slow timer also consumes, so an
// event submitted without a wakeup is never stranded.
#pragma once

#include <bpf/libbpf.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "bpf_raii.h"
#include "result.h"

namespace tif {

class RingReader {
  public:
    using Handler = std::function<void(std::span<const std::byte> record)>;
    using BatchDone = std::function<void()>;

    static Result<std::unique_ptr<RingReader>> create(boost::asio::io_context& io, std::string name,
                                                      int ringbuf_map_fd, Handler on_record,
                                                      BatchDone on_batch_done);
    RingReader(const RingReader&) = delete;
    RingReader& operator=(const RingReader&) = delete;

    void start();
    void stop();  // cancels pending waits; the final drain is up to the caller
    void drain(); // consume whatever is in the buffer now

    const std::string& name() const { return name_; }
    uint64_t consumed() const { return consumed_.load(std::memory_order_relaxed); }
    uint64_t consume_errors() const { return consume_errors_.load(std::memory_order_relaxed); }

  private:
    RingReader(boost::asio::io_context& io, std::string name, Handler h, BatchDone b);
    static int on_sample(void* ctx, void* data, size_t size);
    void do_wait();
    void do_timer();

    std::string name_;
    Handler on_record_;
    BatchDone on_batch_done_;
    RingBufferOwner rb_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::posix::stream_descriptor epoll_;
    boost::asio::steady_timer timer_;
    std::chrono::milliseconds safety_period_{100};
    bool stopped_ = false;
    std::atomic<uint64_t> consumed_{0};
    std::atomic<uint64_t> consume_errors_{0};
};

} // namespace tif

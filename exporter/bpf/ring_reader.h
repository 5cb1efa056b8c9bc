// Drains one BPF ring buffer from the io_context: the ring buffer's epoll fd is wrapped in a
// posix::stream_descriptor and async_wait()ed on, then ring_buffer__consume() reads everything
// that is there. No busy polling and no thread per buffer.
//
// The probes batch their wakeups (tif_ringbuf_submit in probes/tif_stats.bpf.h): the kernel
// only wakes us when an eighth of the ring waits. Whatever is below that is collected by the
// flush timer, so its period is the bound on an event's delay at low rates, and it is what
// keeps a wakeup that never comes from stranding events.
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

#include "bpf/bpf_raii.h"
#include "core/result.h"

namespace tif {

// Default of --bpf.ringbuf-flush-interval. 100 ms: a log line or exemplar is at most that late
// (Loki batches by the second anyway, and lines carry the kernel's timestamp), while an idle
// daemon wakes only 10 times a second per ring buffer. Throughput does not depend on it: above
// an eighth of the ring per period the kernel's batched wakeups do the draining.
inline constexpr std::chrono::milliseconds DEFAULT_RING_FLUSH_INTERVAL{100};

class RingReader {
  public:
    using Handler = std::function<void(std::span<const std::byte> record)>;
    using BatchDone = std::function<void()>;

    static Result<std::unique_ptr<RingReader>>
    create(boost::asio::io_context& io, std::string name, int ringbuf_map_fd, Handler on_record,
           BatchDone on_batch_done,
           std::chrono::nanoseconds flush_interval = DEFAULT_RING_FLUSH_INTERVAL);
    RingReader(const RingReader&) = delete;
    RingReader& operator=(const RingReader&) = delete;

    void start();
    void stop();  // cancels pending waits; the final drain is up to the caller
    void drain(); // consume whatever is in the buffer now, however long it takes

    // Records read per turn on the io_context before the rest waits for the next turn (posted
    // at once): a producer faster than us must not starve the other handlers (the other ring
    // buffers, signals, reload, netlink). ~1 ms of work at our per-record cost.
    static constexpr uint32_t RECORDS_PER_TURN = 4096;

    const std::string& name() const { return name_; }
    uint64_t consumed() const { return consumed_.load(std::memory_order_relaxed); }
    uint64_t consume_errors() const { return consume_errors_.load(std::memory_order_relaxed); }

  private:
    RingReader(boost::asio::io_context& io, std::string name, Handler h, BatchDone b,
               std::chrono::nanoseconds flush_interval);
    static int on_sample(void* ctx, void* data, size_t size);
    bool drain_turn(); // true: the budget ran out with records left
    void consume_turn();
    void do_wait();
    void do_timer();

    std::string name_;
    Handler on_record_;
    BatchDone on_batch_done_;
    RingBufferOwner rb_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::posix::stream_descriptor epoll_;
    boost::asio::steady_timer timer_;
    std::chrono::nanoseconds flush_interval_;
    bool stopped_ = false;
    bool turn_posted_ = false;
    uint32_t budget_ = 0; // records left in this turn
    std::atomic<uint64_t> consumed_{0};
    std::atomic<uint64_t> consume_errors_{0};
};

} // namespace tif

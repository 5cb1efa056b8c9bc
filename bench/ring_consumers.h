// The two consumers ring_bench.cpp compares on the same ring buffer and the same producer:
//   ExporterConsumer  the daemon's own path: RingReader on an io_context (one thread, as in the
//                     daemon) calling the retransmit module's record handler: decode, interface
//                     labels, log limiter, JSON line to the log output, flush after each batch.
//   BareConsumer      ring_buffer__poll/consume on a plain thread, a callback that only counts
//                     (or, `copy`, also copies the record out, as any real reader must).
// Both wait the same way: for the kernel's batched wakeups, or the flush interval at most.
#pragma once

#include <bpf/libbpf.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "bpf/bpf_raii.h"
#include "bpf/ring_reader.h"
#include "core/result.h"
#include "log/log_limiter.h"
#include "openmetrics.h"

namespace tif::bench {

// Pins the calling thread (-1 = leave it) and, after use_realtime(prio > 0), makes it
// SCHED_FIFO: on a shared machine a woken consumer otherwise waits out other tasks' time
// slices, and the ring fills meanwhile: the figure would be the scheduler's, not the consumer's.
void pin_to_cpu(int cpu);
void use_realtime(int prio);

class Consumer {
  public:
    virtual ~Consumer() = default;
    virtual std::string name() const = 0;
    virtual uint64_t consumed() const = 0;
    virtual uint64_t batches() const = 0; // consume calls that returned records
    virtual void stop() = 0;              // joins the consumer thread
};

class ExporterConsumer : public Consumer {
  public:
    // log_rate: --log.event-rate (0 = every line written).
    static Result<std::unique_ptr<ExporterConsumer>> start(int map_fd, uint32_t host_netns_ino,
                                                           uint32_t log_rate,
                                                           std::chrono::nanoseconds flush, int cpu);
    ~ExporterConsumer() override { stop(); }
    std::string name() const override { return name_; }
    uint64_t consumed() const override { return reader_->consumed(); }
    uint64_t batches() const override { return batches_.load(std::memory_order_relaxed); }
    void stop() override;

  private:
    ExporterConsumer(uint32_t log_rate) : limiter_(log_rate, 0), work_(io_.get_executor()) {}
    std::string name_;
    boost::asio::io_context io_;
    LogLimiter limiter_;
    ExemplarTable exemplars_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
    std::unique_ptr<RingReader> reader_;
    std::atomic<uint64_t> batches_{0};
    std::thread thread_;
};

class BareConsumer : public Consumer {
  public:
    static Result<std::unique_ptr<BareConsumer>> start(int map_fd, std::chrono::nanoseconds flush,
                                                       int cpu, bool copy = false);
    ~BareConsumer() override { stop(); }
    std::string name() const override { return copy_ ? "bare libbpf, copies" : "bare libbpf"; }
    uint64_t consumed() const override { return count_.load(std::memory_order_relaxed); }
    uint64_t batches() const override { return batches_.load(std::memory_order_relaxed); }
    void stop() override;

  private:
    BareConsumer() = default;
    static int on_sample(void* ctx, void* data, size_t size);
    static int on_sample_copy(void* ctx, void* data, size_t size);
    RingBufferOwner rb_;
    bool copy_ = false;
    std::atomic<uint64_t> count_{0};
    std::atomic<uint64_t> batches_{0};
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

} // namespace tif::bench

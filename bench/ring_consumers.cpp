#include "ring_consumers.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstring>

#include "log/log.h"
#include "tcp/rtx_record.h"

namespace tif::bench {

namespace {
// Only the consumer thread writes these counters: a plain store, no locked read-modify-write.
void bump(std::atomic<uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}
} // namespace

namespace {
int g_rt_prio = 0;
}

void use_realtime(int prio) {
    g_rt_prio = prio;
}

void pin_to_cpu(int cpu) {
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    }
    if (g_rt_prio > 0) {
        sched_param sp{};
        sp.sched_priority = g_rt_prio;
        pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp); // best effort
    }
}

Result<std::unique_ptr<ExporterConsumer>>
ExporterConsumer::start(int map_fd, uint32_t host_netns_ino, uint32_t log_rate,
                        std::chrono::nanoseconds flush, int cpu) {
    std::unique_ptr<ExporterConsumer> c(new ExporterConsumer(log_rate));
    c->name_ = log_rate ? "exporter, log limit " + std::to_string(log_rate) + "/s"
                        : "exporter, every line";
    // As retransmit_module.cpp wires it: the module's handler, Log::flush after each batch.
    auto r = RingReader::create(
        c->io_, "bench_events", map_fd,
        [host = host_netns_ino, ex = &c->exemplars_, lim = &c->limiter_](
            std::span<const std::byte> rec) { log_rtx_record(rec, host, *ex, lim); },
        [b = &c->batches_] {
            bump(*b);
            Log::flush();
        },
        flush);
    if (!r)
        return r.error();
    c->reader_ = std::move(*r);
    c->reader_->start();
    c->thread_ = std::thread([p = c.get(), cpu] {
        pin_to_cpu(cpu);
        p->io_.run();
    });
    return c;
}

void ExporterConsumer::stop() {
    if (!thread_.joinable())
        return;
    reader_->stop(); // cancels its wait and timer; run() returns once nothing is left
    work_.reset();
    thread_.join();
}

int BareConsumer::on_sample(void* ctx, void*, size_t) {
    bump(*static_cast<std::atomic<uint64_t>*>(ctx));
    return 0;
}

// Reads the whole record, like the exporter's memcpy into its event struct: the cache lines
// then travel from the producer's CPU, which "only counts" never makes them do.
int BareConsumer::on_sample_copy(void* ctx, void* data, size_t size) {
    unsigned char buf[256];
    std::memcpy(buf, data, std::min(size, sizeof(buf)));
    asm volatile("" : : "r"(buf) : "memory"); // the copy is used
    return on_sample(ctx, data, size);
}

Result<std::unique_ptr<BareConsumer>>
BareConsumer::start(int map_fd, std::chrono::nanoseconds flush, int cpu, bool copy) {
    std::unique_ptr<BareConsumer> c(new BareConsumer());
    c->copy_ = copy;
    ring_buffer* rb =
        ring_buffer__new(map_fd, copy ? &BareConsumer::on_sample_copy : &BareConsumer::on_sample,
                         &c->count_, nullptr);
    if (!rb)
        return os_error(errno, "ring_buffer__new (bare consumer)");
    c->rb_ = RingBufferOwner(rb);
    const int timeout_ms = int(
        std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::milliseconds>(flush).count()));
    c->thread_ = std::thread([p = c.get(), cpu, timeout_ms] {
        pin_to_cpu(cpu);
        while (!p->stop_.load(std::memory_order_relaxed)) {
            // A timeout is the flush timer: consume what came without a wakeup.
            int n = ring_buffer__poll(p->rb_.get(), timeout_ms);
            if (n == 0)
                n = ring_buffer__consume(p->rb_.get());
            if (n > 0)
                bump(p->batches_);
        }
    });
    return c;
}

void BareConsumer::stop() {
    if (!thread_.joinable())
        return;
    stop_ = true;
    thread_.join();
}

} // namespace tif::bench

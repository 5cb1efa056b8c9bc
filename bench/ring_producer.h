// The bench producer: ring_producer.bpf.c loaded, and run with BPF_PROG_TEST_RUN from a pinned
// thread, flat out or paced to a rate.
#pragma once

#include <bpf/bpf.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>

#include "bpf/bpf_maps.h"
#include "bpf/bpf_raii.h"
#include "core/result.h"
#include "net/iface_label.h"
#include "ring_consumers.h"
#include "ring_producer.skel.h"

namespace tif::bench {

using Clock = std::chrono::steady_clock;

class Producer {
  public:
    static Result<std::unique_ptr<Producer>> load(uint32_t ringbuf_bytes) {
        std::unique_ptr<Producer> p(new Producer());
        p->skel_ = BpfSkeleton<ring_producer_bpf>(ring_producer_bpf::open());
        if (!p->skel_)
            return os_error(errno, "open ring_producer");
        p->skel_->rodata->host_netns_ino = own_netns_ino();
        if (int err = bpf_map__set_max_entries(p->skel_->maps.events, ringbuf_bytes))
            return os_error(err, "size the bench ring buffer");
        if (int err = ring_producer_bpf::load(p->skel_.get()))
            return os_error(err, "load ring_producer");
        return p;
    }
    int map_fd() const { return bpf_map__fd(skel_->maps.events); }
    uint64_t wakeups() const { return skel_->bss->wakeups; }
    ProbeStats stats() const {
        auto s = read_probe_stats(bpf_map__fd(skel_->maps.tif_stats));
        return s ? *s : ProbeStats{};
    }
    // Runs the program for `secs` at `rate` events/s (0 = as fast as it goes) on `cpu`.
    Status run(double secs, double rate, int cpu, bool wakeup_each = false) const {
        const int prog = bpf_program__fd(wakeup_each ? skel_->progs.tif_ring_produce_wakeup_each
                                                     : skel_->progs.tif_ring_produce);
        Status st = Ok{};
        std::thread t([&] {
            pin_to_cpu(cpu);
            char pkt[64] = {}; // a tc test run wants at least an Ethernet header
            // Paced: one BPF_PROG_TEST_RUN per 25 us of events, then wait for the schedule.
            const auto slice = std::chrono::microseconds(25);
            const uint32_t batch = rate > 0 ? std::max(1u, uint32_t(rate * 25e-6)) : 1024;
            const auto per_batch = std::chrono::duration<double>(rate > 0 ? batch / rate : 0);
            LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = sizeof(pkt),
                        .repeat = int(batch));
            const auto end = Clock::now() + std::chrono::duration<double>(secs);
            auto next = Clock::now();
            for (auto now = next; now < end; now = Clock::now()) {
                if (bpf_prog_test_run_opts(prog, &o)) {
                    st = os_error(errno, "BPF_PROG_TEST_RUN ring_producer");
                    return;
                }
                if (rate <= 0)
                    continue;
                next += std::chrono::duration_cast<Clock::duration>(per_batch);
                if (Clock::now() - next > 40 * slice) // fell behind: no catch-up burst
                    next = Clock::now();
                while (Clock::now() < next) {
                }
            }
        });
        t.join();
        return st;
    }

  private:
    Producer() = default;
    BpfSkeleton<ring_producer_bpf> skel_;
};

} // namespace tif::bench

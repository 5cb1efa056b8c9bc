// Ring-buffer events/s the exporter consumes without loss, against a bare libbpf consumer in
// the same run: same ring size, same producer (ring_producer.bpf.c: the retransmit record,
// the probes' reserve/submit helpers, BPF_PROG_TEST_RUN with `repeat` from a pinned thread),
// the consumer pinned to the other CPU. See ring_consumers.h for the consumers: the exporter's,
// the bare one that only counts, and the bare one that also copies each record out: reading
// 184 bytes the producer's CPU just wrote moves three cache lines across, which slows the
// producer as well; any real reader pays that, the counting one does not.
//
// "Without loss", measured: each consumer first gets a saturating producer (the figure is what
// it consumed per second, with the loss). If nothing was lost, the producer's rate is its
// lossless rate; otherwise the producer is paced at falling fractions of that consumption
// rate and the highest rate with lost == 0 and consumed == produced over a whole run counts.
// A rate sustained for the run's seconds, not a burst the ring absorbed. With the daemon's
// 256 KiB ring (~1,400 records, a third of a millisecond at these rates) that figure also
// measures how often the consumer stalls for longer (vCPU steal, interrupts): bench/run.sh
// therefore runs it with an 8 MiB ring too, where it is the consumer's own sustained rate.
// At the end: every line written (--log.event-rate=0), and the probes' old submit (a wakeup
// whenever the reader had caught up) against the same two consumers.
//
//   ring_bench [--secs=S (2)] [--rounds=N (3)] [--ringbuf-bytes=B (262144)]
//              [--flush-ms=MS (100)] [--producer-cpu=C (0)] [--consumer-cpu=C (1)]
//              [--rt-prio=P (0: normal scheduling)]
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bpf/bpf_maps.h"
#include "log/log.h"
#include "net/iface_label.h"
#include "ring_consumers.h"
#include "ring_producer.h"
#include "tcp_retransmit.h"

namespace tif::bench {
namespace {

struct Args {
    double secs = 2;
    int rounds = 3;
    uint32_t ringbuf_bytes = 256 * 1024;
    int flush_ms = 100;
    int producer_cpu = 0, consumer_cpu = 1;
    int rt_prio = 0;  // SCHED_FIFO priority of the producer and consumer threads, 0 = normal
    std::string only; // "bare", "exporter", "every", "copies": one saturated run (perf record)
    bool wakeup_each = false; // the probes' old submit (a wakeup whenever the reader caught up)
};

struct Measured {
    uint64_t produced = 0, lost = 0, consumed = 0, batches = 0, wakeups = 0;
    double produce_secs = 0, consume_secs = 0;
    double offered() const { return produced / produce_secs; }
    double consumed_rate() const { return consumed / consume_secs; }
    bool lossless() const { return lost == 0 && consumed == produced; }
};

using StartConsumer = std::function<Result<std::unique_ptr<Consumer>>()>;

template <class C> Result<std::unique_ptr<Consumer>> as_consumer(Result<std::unique_ptr<C>> r) {
    if (!r)
        return r.error();
    return std::unique_ptr<Consumer>(std::move(*r));
}

// Empties the ring between runs, so each consumer counts only its own run's records.
void empty_ring(int map_fd) {
    ring_buffer* rb = ring_buffer__new(
        map_fd, [](void*, void*, size_t) { return 0; }, nullptr, nullptr);
    if (rb) {
        ring_buffer__consume(rb);
        ring_buffer__free(rb);
    }
}

Result<Measured> measure(const Producer& p, const StartConsumer& start, double rate,
                         const Args& a) {
    empty_ring(p.map_fd());
    const ProbeStats s0 = p.stats();
    const uint64_t w0 = p.wakeups();
    auto c = start();
    if (!c)
        return c.error();
    const auto t0 = Clock::now();
    if (auto st = p.run(a.secs, rate, a.producer_cpu, a.wakeup_each); !st)
        return st.error();
    const auto t1 = Clock::now();
    const ProbeStats s1 = p.stats();
    Measured m;
    m.produced = s1[TIF_STAT_RB_PRODUCED] - s0[TIF_STAT_RB_PRODUCED];
    m.lost = s1[TIF_STAT_RB_LOST] - s0[TIF_STAT_RB_LOST];
    m.wakeups = p.wakeups() - w0;
    // Wait for the consumer to read what the ring still holds (the flush timer at most).
    auto done = t1;
    const auto deadline = t1 + std::chrono::milliseconds(a.flush_ms) + std::chrono::seconds(2);
    uint64_t seen = (*c)->consumed();
    while (seen < m.produced - m.lost && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        if (uint64_t now = (*c)->consumed(); now != seen) {
            seen = now;
            done = Clock::now();
        }
    }
    (*c)->stop();
    m.consumed = (*c)->consumed();
    m.batches = (*c)->batches();
    m.produce_secs = std::chrono::duration<double>(t1 - t0).count();
    m.consume_secs = std::chrono::duration<double>(std::max(done, t1) - t0).count();
    return m;
}

std::string mps(double v) {
    char b[32];
    snprintf(b, sizeof(b), "%.2fM", v / 1e6);
    return b;
}

// "per wakeup": records per wakeup the submit helper asked for ("-": the old submit, which
// leaves that to the kernel and does not count).
void print(const std::string& who, const char* what, const Measured& m) {
    char wake[16] = "    -";
    if (m.wakeups)
        snprintf(wake, sizeof(wake), "%5.0f", double(m.produced - m.lost) / m.wakeups);
    printf("  %-26s %-9s produced %7s/s  consumed %7s/s  lost %5.1f%%  per batch %5.0f  "
           "per wakeup %s\n",
           who.c_str(), what, mps(m.offered()).c_str(), mps(m.consumed_rate()).c_str(),
           m.produced ? 100.0 * m.lost / m.produced : 0.0,
           m.batches ? double(m.consumed) / m.batches : 0.0, wake);
}

// The saturating run, then paced runs until one loses nothing. Returns the lossless rate.
Result<std::pair<double, double>> lossless_rate(const Producer& p, const std::string& who,
                                                const StartConsumer& start, const Args& a) {
    auto sat = measure(p, start, 0, a);
    if (!sat)
        return sat.error();
    print(who, "saturated", *sat);
    if (sat->lossless())
        return std::pair{sat->offered(), sat->consumed_rate()};
    for (double f : {0.95, 0.85, 0.75, 0.6, 0.45, 0.3, 0.15}) {
        auto m = measure(p, start, f * sat->consumed_rate(), a);
        if (!m)
            return m.error();
        print(who, "paced", *m);
        if (m->lossless())
            return std::pair{m->offered(), sat->consumed_rate()};
    }
    return std::pair{0.0, sat->consumed_rate()};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

int run(const Args& a) {
    auto p = Producer::load(a.ringbuf_bytes);
    if (!p) {
        fprintf(stderr, "ring_bench: %s\n", p.error().message().c_str());
        return p.error().err == EPERM ? 77 : 1;
    }
    use_realtime(a.rt_prio);
    FILE* devnull = fopen("/dev/null", "w");
    Log::set_output(devnull); // the JSON lines are written, to nowhere
    const auto flush = std::chrono::milliseconds(a.flush_ms);
    const int map_fd = (*p)->map_fd();
    const uint32_t host = own_netns_ino();
    // log_rate ~0u: the bare consumer, ~1u: the bare one that copies each record.
    auto consumer = [&](uint32_t log_rate) -> StartConsumer {
        return [&, log_rate]() -> Result<std::unique_ptr<Consumer>> {
            if (log_rate >= ~1u)
                return as_consumer(
                    BareConsumer::start(map_fd, flush, a.consumer_cpu, log_rate == ~1u));
            return as_consumer(
                ExporterConsumer::start(map_fd, host, log_rate, flush, a.consumer_cpu));
        };
    };
    // The daemon's default --log.event-rate=100: almost every line is held back and counted.
    std::map<std::string, StartConsumer> consumers = {{"bare", consumer(~0u)},
                                                      {"exporter", consumer(100)}};
    consumers["every"] = consumer(0);
    consumers["copies"] = consumer(~1u);
    if (!a.only.empty()) {
        auto m = consumers.contains(a.only) ? measure(**p, consumers[a.only], 0, a)
                                            : Result<Measured>(Error{EINVAL, "--only: " + a.only});
        if (!m) {
            fprintf(stderr, "ring_bench: %s\n", m.error().message().c_str());
            return 1;
        }
        print(a.only, "saturated", *m);
        return 0;
    }
    printf("ring %u B, record %zu B, producer CPU %d, consumer CPU %d%s, flush %d ms, %.1fs runs\n",
           a.ringbuf_bytes, sizeof(tif_rtx_event), a.producer_cpu, a.consumer_cpu,
           a.rt_prio ? " (SCHED_FIFO)" : "", a.flush_ms, a.secs);
    const std::map<std::string, std::string> label = {{"bare", "bare libbpf"},
                                                      {"copies", "bare libbpf, copies"},
                                                      {"exporter", "exporter (log limit 100/s)"}};
    std::map<std::string, std::vector<double>> lossless, saturated, ratio;
    std::vector<std::string> order = {"bare", "copies", "exporter"};
    for (int r = 0; r < a.rounds; ++r) {
        printf("round %d\n", r + 1);
        std::map<std::string, double> got;
        for (const auto& k : order) {
            auto v = lossless_rate(**p, label.at(k), consumers[k], a);
            if (!v) {
                fprintf(stderr, "ring_bench: %s\n", v.error().message().c_str());
                return 1;
            }
            got[k] = v->first;
            lossless[k].push_back(v->first);
            saturated[k].push_back(v->second);
        }
        for (const char* k : {"bare", "copies"})
            ratio[k].push_back(got[k] > 0 ? got["exporter"] / got[k] : 0);
        // Rotate who goes first, so drift on a shared machine does not favour one.
        std::rotate(order.begin(), order.begin() + 1, order.end());
    }
    // Every line formatted and written (--log.event-rate=0): what the JSON costs.
    if (auto m = measure(**p, consumers["every"], 0, a))
        print("exporter, every line", "saturated", *m);
    Args old = a;
    old.wakeup_each = true;
    for (const char* k : {"bare", "exporter"})
        if (auto m = measure(**p, consumers[k], 0, old))
            print(std::string(k) + ", old submit", "saturated", *m);
    const double e = median(lossless["exporter"]), b = median(lossless["bare"]);
    printf("lossless events/s (median of %d rounds): exporter %s  bare %s  bare-copies %s\n",
           a.rounds, mps(e).c_str(), mps(b).c_str(), mps(median(lossless["copies"])).c_str());
    printf("  ratio exporter/bare %.2f, exporter/bare-copies %.2f (medians of per-round ratios)\n",
           median(ratio["bare"]), median(ratio["copies"]));
    printf("saturated consumed/s (median): exporter %s  bare %s  bare-copies %s\n",
           mps(median(saturated["exporter"])).c_str(), mps(median(saturated["bare"])).c_str(),
           mps(median(saturated["copies"])).c_str());
    printf("targets: exporter/bare >= 0.80: %s; exporter >= 3M/s: %s\n",
           median(ratio["bare"]) >= 0.8 ? "met" : "NOT met", e >= 3e6 ? "met" : "NOT met");
    Log::set_output(nullptr);
    fclose(devnull);
    return 0;
}

bool parse(int argc, char** argv, Args& a) {
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        auto eq = s.find('=');
        std::string k = s.substr(0, eq), v = eq == std::string::npos ? "" : s.substr(eq + 1);
        if (v.empty())
            return false;
        if (k == "--secs")
            a.secs = std::stod(v);
        else if (k == "--rounds")
            a.rounds = std::stoi(v);
        else if (k == "--ringbuf-bytes")
            a.ringbuf_bytes = uint32_t(std::stoul(v));
        else if (k == "--flush-ms")
            a.flush_ms = std::stoi(v);
        else if (k == "--producer-cpu")
            a.producer_cpu = std::stoi(v);
        else if (k == "--consumer-cpu")
            a.consumer_cpu = std::stoi(v);
        else if (k == "--rt-prio")
            a.rt_prio = std::stoi(v);
        else if (k == "--only")
            a.only = v;
        else
            return false;
    }
    return a.secs > 0 && a.rounds > 0 && a.flush_ms > 0;
}

} // namespace
} // namespace tif::bench

int main(int argc, char** argv) {
    tif::bench::Args a;
    if (!tif::bench::parse(argc, argv, a)) {
        fprintf(stderr, "usage: ring_bench [--secs=S] [--rounds=N] [--ringbuf-bytes=B] "
                        "[--flush-ms=MS] [--producer-cpu=C] [--consumer-cpu=C] [--rt-prio=P]\n");
        return 2;
    }
    return tif::bench::run(a);
}

// /metrics render cost at N watched interfaces: our text serializer against prometheus-cpp's
// TextSerializer on the same families, interleaved in one run so machine noise hits both.
//
// Data: the real packet collector's family building (packet_families, the code PacketCollector
// runs at every scrape) fed with a synthetic PacketSnapshot of N dummy interfaces with
// non-zero counters, behind a real MetricsRegistry (so its per-collector self-metrics are in
// too). Synthetic rather than attached because creating N interfaces is the footprint bench's
// job; here it would only add minutes and noise. The part that the synthetic source skips,
// reading the kernel's per-CPU counters, is timed separately on the real BPF map (loaded with N
// slots' size; needs root, skipped otherwise): it is the same syscall whatever the counts are.
//
//   traceiface_metrics_bench [--ifaces 10,100,1000,2000] [--iterations 15]
#include <bpf/bpf.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "bpf/bpf_maps.h"
#include "bpf/bpf_raii.h"
#include "metrics_registry.h"
#include "packets/packet_collector.h"
#include "tc_stats.h"
#include "text_format.h"

using namespace tif;

// Time on this thread's CPU (user + system), not wall time: on a shared, loaded machine wall
// time mostly measures how often we were preempted. Everything timed runs on this thread.
struct Clock {
    using time_point = std::chrono::nanoseconds;
    static time_point now() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
    }
};

namespace {

PacketSnapshot synthetic_snapshot(uint32_t n) {
    PacketSnapshot s;
    s.watched = n;
    uint64_t x = 0x9e3779b97f4a7c15ull; // fixed seed: every run renders the same bytes
    auto next = [&x] {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        return x;
    };
    for (uint32_t i = 0; i < n; ++i) {
        IfaceSeries is;
        char name[16];
        std::snprintf(name, sizeof(name), "tifb%04u", i);
        is.link.name = name;
        is.link.ifindex = 100 + i;
        is.link.mtu = 1500;
        is.kind = "dummy";
        for (auto& c : is.dir) {
            for (auto& b : c.size_hist)
                b = next() % 100000, c.packets += b;
            c.bytes = c.packets * 700 + next() % 1000;
            c.oversize = next() % 10;
        }
        s.ifaces.push_back(std::move(is));
    }
    return s;
}

class SyntheticPackets : public Collector {
  public:
    explicit SyntheticPackets(PacketSnapshot s) : snap_(std::move(s)) {}
    std::string_view name() const override { return "tc_packets"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        PacketSnapshot copy = snap_; // the real collector gets a fresh snapshot every scrape
        packet_families(copy, out);
        return Ok{};
    }

  private:
    PacketSnapshot snap_;
};

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Reading every slot's two directions from a per-CPU array like tc_stats' tc_counts (same
// type, value size and entries; our own map, so the bench depends on no probe's load path), as
// PacketManager::snapshot does: one lookup per slot and direction, summed over CPUs. -1 when
// the map cannot be created (not root).
double bpf_read_ms(uint32_t n, int iterations) {
    UniqueFd map(bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "tif_bench", sizeof(uint32_t),
                                sizeof(tif_tc_counts), 2 * n, nullptr));
    if (map.get() < 0)
        return -1;
    constexpr size_t fields = sizeof(tif_tc_counts) / sizeof(uint64_t);
    std::vector<uint64_t> buf(size_t(possible_cpus()) * fields);
    std::vector<double> t;
    uint64_t sink = 0;
    for (int it = 0; it < iterations; ++it) {
        auto t0 = Clock::now();
        for (uint32_t idx = 0; idx < 2 * n; ++idx) {
            if (bpf_map_lookup_elem(map.get(), &idx, buf.data()) != 0)
                return -1;
            for (uint64_t v : buf)
                sink += v;
        }
        t.push_back(ms_since(t0));
    }
    return sink == 0 ? median(t) : -1; // a fresh map reads zeros
}

std::vector<uint32_t> parse_list(const char* s) {
    std::vector<uint32_t> v;
    for (const char* p = s; *p;) {
        v.push_back(uint32_t(std::strtoul(p, const_cast<char**>(&p), 10)));
        if (*p == ',')
            ++p;
        else if (*p)
            break;
    }
    return v;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<uint32_t> sizes{10, 100, 1000, 2000};
    int iterations = 15;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--ifaces"))
            sizes = parse_list(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--iterations"))
            iterations = std::max(1, std::atoi(argv[i + 1]));
        else {
            std::fprintf(stderr, "usage: %s [--ifaces 10,100,1000] [--iterations N]\n", argv[0]);
            return 2;
        }
    }
    std::printf("%6s %8s %9s %9s %9s %9s %9s %9s %9s %7s %9s %9s %s\n", "ifaces", "lines", "bytes",
                "bpf_ms", "collect", "ser_ours", "ser_cpp", "e2e_ours", "e2e_cpp", "ratio",
                "us/iface", "om_ms", "identical");
    bool all_identical = true;
    for (uint32_t n : sizes) {
        MetricsRegistry reg;
        reg.add(std::make_unique<SyntheticPackets>(synthetic_snapshot(n)));
        std::vector<double> collect, ours, theirs, om;
        std::string a, b;
        for (int it = 0; it < iterations; ++it) {
            auto t0 = Clock::now();
            auto fams = reg.Collect();
            collect.push_back(ms_since(t0));
            // Alternate which goes first so cache warmth favours neither.
            std::function<void()> run_ours = [&] {
                auto t = Clock::now();
                a = serialize_text(fams);
                ours.push_back(ms_since(t));
            };
            std::function<void()> run_theirs = [&] {
                auto t = Clock::now();
                b = prometheus::TextSerializer().Serialize(fams);
                theirs.push_back(ms_since(t));
            };
            {
                auto t = Clock::now(); // OpenMetrics, for reference (exemplar table empty)
                (void)serialize_openmetrics(fams, &reg.exemplars());
                om.push_back(ms_since(t));
            }
            if (it % 2) {
                run_ours();
                run_theirs();
            } else {
                run_theirs();
                run_ours();
            }
        }
        // The self-metrics carry timings, which differ between Collect calls but not between
        // the two serializations of one of them.
        const bool identical = a == b;
        all_identical &= identical;
        const double c = median(collect), o = median(ours), t = median(theirs);
        const double bpf = bpf_read_ms(n, std::max(1, iterations / 3));
        const size_t lines = size_t(std::count(a.begin(), a.end(), '\n'));
        std::printf("%6u %8zu %9zu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %7.3f %9.3f %9.3f %s\n", n,
                    lines, a.size(), bpf, c, o, t, c + o, c + t, (c + o) / (c + t),
                    1000 * (c + o) / n, median(om), identical ? "yes" : "NO");
    }
    std::printf("(ms of CPU time on the bench thread, medians of %d; e2e = collect + serialize; "
                "ratio = e2e_ours / e2e_cpp; "
                "bpf_ms = reading a per-CPU map like tc_counts, -1 = not root; om_ms = OpenMetrics "
                "serialization)\n",
                iterations);
    return all_identical ? 0 : 1;
}

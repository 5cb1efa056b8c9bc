// The tc programs' own run time, without bpf_stats: BPF_PROG_TEST_RUN runs a program on one
// synthetic frame `repeat` times and the kernel reports the mean time per run, with no clock
// read per run. Ours (tc_stats.bpf.c, with a slot published for the test device) against the
// empty programs of bench/overhead_baseline.bpf.c on the same frame, in the same run. Caches are
// hot here, so this is the floor of a run's cost; overhead_bench.sh gives the loaded figure.
//
//   prog_test_run [--repeat N (1000000)] [--rounds R (5)]        root (CAP_BPF + CAP_NET_ADMIN)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "overhead_baseline.skel.h"
#include "tc_stats.h"
#include "tc_stats.skel.h"

namespace {

// A 64-byte Ethernet + IPv4 + TCP frame: the size of an ACK, the most common small packet.
std::vector<unsigned char> ack_frame() {
    std::vector<unsigned char> f(64, 0);
    f[12] = 0x08; // ethertype IPv4
    f[14] = 0x45; // version 4, IHL 5
    f[16] = 0;    // total length 50
    f[17] = 50;
    f[22] = 64;   // TTL
    f[23] = 6;    // TCP
    f[46] = 0x50; // data offset 5
    f[47] = 0x10; // ACK
    return f;
}

// Median over rounds of the kernel's mean ns per run; -1 when the kernel refuses.
double ns_per_run(int prog_fd, const std::vector<unsigned char>& frame, int repeat, int rounds) {
    std::vector<double> v;
    for (int r = 0; r < rounds; ++r) {
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                    .data_size_in = static_cast<__u32>(frame.size()), .repeat = repeat);
        if (bpf_prog_test_run_opts(prog_fd, &opts) != 0) {
            std::fprintf(stderr, "BPF_PROG_TEST_RUN: %s\n", std::strerror(errno));
            return -1;
        }
        v.push_back(opts.duration);
    }
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

// What kernel.bpf_stats reports per run (run_time_ns / run_cnt) over `repeat` test runs: the
// floor of the figures overhead_bench.sh reads under load, set by the stats' own clock reads.
double stats_ns_per_run(int prog_fd, const std::vector<unsigned char>& frame, int repeat) {
    bpf_prog_info before{}, after{};
    __u32 len = sizeof(before);
    if (bpf_obj_get_info_by_fd(prog_fd, &before, &len) != 0 ||
        ns_per_run(prog_fd, frame, repeat, 1) < 0)
        return -1;
    len = sizeof(after);
    if (bpf_obj_get_info_by_fd(prog_fd, &after, &len) != 0 || after.run_cnt == before.run_cnt)
        return -1;
    return double(after.run_time_ns - before.run_time_ns) / double(after.run_cnt - before.run_cnt);
}

} // namespace

int main(int argc, char** argv) {
    int repeat = 1000000, rounds = 5;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--repeat=", 0) == 0)
            repeat = std::atoi(a.c_str() + 9);
        else if (a.rfind("--rounds=", 0) == 0)
            rounds = std::atoi(a.c_str() + 9);
        else {
            std::fprintf(stderr, "usage: prog_test_run [--repeat=N] [--rounds=R]\n");
            return 2;
        }
    }
    if (repeat < 1 || rounds < 1) {
        std::fprintf(stderr, "--repeat and --rounds must be >= 1\n");
        return 2;
    }
    tc_stats_bpf* ours = tc_stats_bpf__open_and_load();
    overhead_baseline_bpf* base = overhead_baseline_bpf__open_and_load();
    if (!ours || !base) {
        std::fprintf(stderr, "loading the programs failed: %s\n", std::strerror(errno));
        tc_stats_bpf__destroy(ours);
        overhead_baseline_bpf__destroy(base);
        return 1;
    }
    // The test frame arrives on loopback (ifindex 1): publish a slot for it, as the exporter
    // does for a watched interface, so our programs take their counting path.
    __u32 lo = 1, pos = lo & (TIF_SLOT_POSITIONS - 1);
    tif_tc_slot slot{.ifindex = lo, .slot = 0, .max_len = 65536 + 14, .l2_len = 14};
    if (bpf_map_update_elem(bpf_map__fd(ours->maps.tc_slot_direct), &pos, &slot, BPF_ANY) != 0) {
        std::fprintf(stderr, "publishing the slot: %s\n", std::strerror(errno));
        return 1;
    }
    const auto frame = ack_frame();
    struct Row {
        const char* name;
        int ours_fd, base_fd;
    } rows[] = {
        {"tif_tc_ingress", bpf_program__fd(ours->progs.tif_tc_ingress),
         bpf_program__fd(base->progs.base_tc_ingress)},
        {"tif_tc_egress", bpf_program__fd(ours->progs.tif_tc_egress),
         bpf_program__fd(base->progs.base_tc_egress)},
    };
    std::printf("BPF_PROG_TEST_RUN, 64-byte frame, %d runs x %d rounds (median), no bpf_stats\n",
                repeat, rounds);
    std::printf("%-16s %8s %8s %8s\n", "program", "ns", "empty", "over");
    int rc = 0;
    for (const Row& r : rows) {
        double o = ns_per_run(r.ours_fd, frame, repeat, rounds);
        double b = ns_per_run(r.base_fd, frame, repeat, rounds);
        if (o < 0 || b < 0) {
            rc = 1;
            continue;
        }
        std::printf("%-16s %8.0f %8.0f %8.0f\n", r.name, o, b, o - b);
    }
    // The same runs as bpf_stats counts them, enabled for as long as the fd is open
    // (BPF_ENABLE_STATS: the sysctl is left as it was).
    int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
    if (stats_fd < 0) {
        std::fprintf(stderr, "BPF_ENABLE_STATS: %s\n", std::strerror(errno));
        rc = 1;
    } else {
        std::printf("\nwith bpf_stats on: run_time_ns / run_cnt over %d test runs\n", repeat);
        std::printf("%-16s %8s %8s %8s\n", "program", "ns", "empty", "over");
        for (const Row& r : rows) {
            double o = stats_ns_per_run(r.ours_fd, frame, repeat);
            double b = stats_ns_per_run(r.base_fd, frame, repeat);
            if (o < 0 || b < 0) {
                rc = 1;
                continue;
            }
            std::printf("%-16s %8.0f %8.0f %8.0f   (bpf_stats)\n", r.name, o, b, o - b);
        }
        close(stats_fd);
    }
    // The counting path ran: the slot's ingress/egress counters hold the runs.
    tif_tc_counts sum{};
    std::vector<tif_tc_counts> per_cpu(libbpf_num_possible_cpus());
    for (__u32 idx : {0u, 1u}) {
        if (bpf_map_lookup_elem(bpf_map__fd(ours->maps.tc_counts), &idx, per_cpu.data()) == 0)
            for (const auto& c : per_cpu)
                sum.packets += c.packets;
    }
    if (sum.packets < static_cast<__u64>(repeat)) {
        std::fprintf(stderr, "our programs did not count the test frames (%llu)\n",
                     static_cast<unsigned long long>(sum.packets));
        rc = 1;
    }
    tc_stats_bpf__destroy(ours);
    overhead_baseline_bpf__destroy(base);
    return rc;
}

#include "bpf/prog_stats_collector.h"

#include <bpf/bpf.h>

#include <cerrno>

namespace tif {

using prometheus::MetricType;

Status ProgramStatsCollector::collect(std::vector<prometheus::MetricFamily>& out) {
    auto misses = make_family("traceiface_bpf_program_recursion_misses_total",
                              "Times a program was skipped because it was already running on "
                              "that CPU (the event it would have seen is not counted).",
                              MetricType::Counter);
    auto runs = make_family("traceiface_bpf_program_runs_total",
                            "Program runs; counted only while kernel.bpf_stats_enabled=1.",
                            MetricType::Counter);
    auto seconds = make_family("traceiface_bpf_program_run_seconds_total",
                               "Time spent in the program; counted only while "
                               "kernel.bpf_stats_enabled=1.",
                               MetricType::Counter);
    Status result = Ok{};
    for (const auto& p : progs_) {
        bpf_prog_info info{};
        __u32 len = sizeof(info);
        if (bpf_obj_get_info_by_fd(p.fd, &info, &len) != 0) {
            result = os_error(errno, "bpf_obj_get_info_by_fd for program " + p.name);
            continue;
        }
        add_sample(misses, {{"program", p.name}}, double(info.recursion_misses));
        add_sample(runs, {{"program", p.name}}, double(info.run_cnt));
        add_sample(seconds, {{"program", p.name}}, double(info.run_time_ns) / 1e9);
    }
    out.push_back(std::move(misses));
    out.push_back(std::move(runs));
    out.push_back(std::move(seconds));
    return result;
}

} // namespace tif

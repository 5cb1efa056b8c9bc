// Per-program self-metrics read from the kernel's bpf_prog_info at scrape time: runs missed
// because the program was already running on that CPU (a silent loss otherwise), and, when
// `sysctl kernel.bpf_stats_enabled=1`, run count and run time.
#pragma once

#include <string>
#include <vector>

#include "metrics_registry.h"

namespace tif {

struct ProgramRef {
    std::string name; // the `program` label
    int fd = -1;      // owned by the module's skeleton, alive as long as the daemon runs
};

class ProgramStatsCollector : public Collector {
  public:
    explicit ProgramStatsCollector(std::vector<ProgramRef> progs) : progs_(std::move(progs)) {}
    std::string_view name() const override { return "bpf_programs"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override;

  private:
    std::vector<ProgramRef> progs_;
};

} // namespace tif

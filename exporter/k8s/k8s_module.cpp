// Module "k8s_pod_identity": which pod a veth leads into and a socket lives in
// (pod_directory.h), from the container runtime over CRI, with /proc/<pid>/cgroup as the
// fallback (pod_resolver.h). Never fails start-up: without a runtime socket it is off, with
// one info line and traceiface_k8s_identity_source{source="off"} 1.
#include <sys/stat.h>

#include "config/k8s_options.h"
#include "k8s/pod_resolver.h"
#include "log/log.h"
#include "module.h"

namespace tif {

namespace {

class K8sCollector : public Collector {
  public:
    K8sCollector(std::shared_ptr<PodResolver> r, std::shared_ptr<PodDirectory> d)
        : resolver_(std::move(r)), dir_(std::move(d)) {}
    std::string_view name() const override { return "k8s"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto src = make_family("traceiface_k8s_identity_source",
                               "Where pod identity (namespace, pod) comes from: the container "
                               "runtime (cri), /proc/<pid>/cgroup while it cannot be reached "
                               "(cgroup: pod uid, names only of pods the runtime listed "
                               "before), or off (no runtime socket); 1 for the one in use.",
                               prometheus::MetricType::Gauge);
        const IdentitySource now = resolver_ ? resolver_->source() : IdentitySource::off;
        for (IdentitySource s : {IdentitySource::cri, IdentitySource::cgroup, IdentitySource::off})
            add_sample(src, {{"source", std::string(identity_source_name(s))}}, s == now ? 1 : 0);
        out.push_back(std::move(src));
        auto pods = make_family("traceiface_k8s_pod_netns",
                                "Pod network namespaces known: live ones and ones kept for "
                                "late events after their pod went.",
                                prometheus::MetricType::Gauge);
        const size_t live = dir_->live_count(), all = dir_->size();
        add_sample(pods, {{"state", "live"}}, double(live));
        add_sample(pods, {{"state", "retained"}}, double(all - live));
        out.push_back(std::move(pods));
        auto cgroups = make_family("traceiface_k8s_pod_cgroups",
                                   "Pod and container cgroups (cgroup v2) known, which name "
                                   "hostNetwork pods' sockets: live ones and ones kept for late "
                                   "events; absent where the node has no cgroup v2 hierarchy.",
                                   prometheus::MetricType::Gauge);
        if (dir_->cgroups_available()) {
            const size_t cg_live = dir_->cgroup_live_count(), cg_all = dir_->cgroup_count();
            add_sample(cgroups, {{"state", "live"}}, double(cg_live));
            add_sample(cgroups, {{"state", "retained"}}, double(cg_all - cg_live));
        }
        out.push_back(std::move(cgroups));
        auto errors = make_family("traceiface_k8s_cri_errors_total",
                                  "CRI calls that failed (timeout, runtime down, refused).",
                                  prometheus::MetricType::Counter);
        const CriErrors* e = resolver_ ? resolver_->cri_errors() : nullptr;
        add_sample(errors, {{"call", "ListPodSandbox"}},
                   e ? double(e->list.load(std::memory_order_relaxed)) : 0);
        add_sample(errors, {{"call", "PodSandboxStatus"}},
                   e ? double(e->status.load(std::memory_order_relaxed)) : 0);
        out.push_back(std::move(errors));
        return Ok{};
    }

  private:
    std::shared_ptr<PodResolver> resolver_;
    std::shared_ptr<PodDirectory> dir_;
};

} // namespace

Status start_k8s_module(DaemonContext& ctx) {
    const K8sOptions& o = ctx.opt.k8s;
    const std::string endpoint = resolve_cri_endpoint(o);
    if (endpoint.empty()) {
        Log::msg(Level::info,
                 o.cri_endpoint.empty() ? "pod identity off (--k8s.cri-endpoint=\"\")"
                                        : "pod identity off: no container runtime socket found",
                 Fields{{"component", "k8s"}, {"source", "off"}, {"host_root", o.host_root}});
        ctx.registry.add(std::make_unique<K8sCollector>(nullptr, ctx.pods));
        return Ok{};
    }
    auto r = std::make_shared<PodResolver>(
        PodResolverConfig{.endpoint = endpoint,
                          .host_root = o.host_root,
                          .relist = std::chrono::milliseconds(o.relist_interval_ns / 1'000'000),
                          .host_netns_ino = ctx.host_netns_ino,
                          .cgroup_root = o.cgroup_root,
                          .pod_labels = o.pod_labels},
        ctx.pods);
    // The thread starts now, before the daemon drops its capabilities, and keeps only
    // CAP_SYS_PTRACE and CAP_DAC_OVERRIDE (pod_resolver.cpp); its first pass runs in the
    // background: start-up never waits on the runtime.
    // A pod that went stays named for as long as its interface's series do.
    ctx.pods->set_retain(std::chrono::nanoseconds(ctx.opt.iface_stale_grace_ns));
    ctx.pods->set_wake([w = std::weak_ptr<PodResolver>(r)] {
        if (auto p = w.lock())
            p->wake();
    });
    std::vector<std::string> label_names;
    for (const auto& k : o.pod_labels)
        label_names.push_back(pod_label_metric_name(k));
    ctx.pods->set_label_keys(o.pod_labels, std::move(label_names));
    ctx.pods->set_active(true);
    r->start();
    ctx.registry.add(std::make_unique<K8sCollector>(r, ctx.pods));
    ctx.on_stop.push_back([r, d = ctx.pods] {
        d->set_wake({});
        r->stop();
    });
    ctx.keep_alive.push_back(r);
    return Ok{};
}

} // namespace tif

// Flags of Kubernetes pod identity (--k8s.*), kept apart from options.cpp like the span flags;
// parse_options() merges them in with add_k8s_flags().
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/span_options.h" // FlagMap

namespace tif {

inline constexpr const char* K8S_ENDPOINT_AUTO = "auto";

struct K8sOptions {
    // "auto" = the first socket of k8s_endpoint_candidates() that exists under host_root;
    // "" = off; else a unix:// endpoint or socket path.
    std::string cri_endpoint = K8S_ENDPOINT_AUTO;
    std::string host_root; // "" = /; e.g. /host where the node's / is mounted
    uint64_t relist_interval_ns = 10'000'000'000; // 10s
    // cgroup v2 hierarchy naming hostNetwork pods' sockets: "auto" (under host_root), a
    // directory, or "" = off (k8s/pod_cgroups.h).
    std::string cgroup_root = "auto";
    // Pod labels copied onto traceiface_interface_info as label_<key> (opt-in: label values
    // are as many as pods, so none by default).
    std::vector<std::string> pod_labels;
};

// "app.kubernetes.io/name" → "label_app_kubernetes_io_name" (kube-state-metrics' convention).
std::string pod_label_metric_name(std::string_view key);

void add_k8s_flags(FlagMap& flags, K8sOptions& o);
std::string k8s_usage();

// The runtime sockets "auto" tries, in order (paths on the node).
const std::vector<std::string>& k8s_endpoint_candidates();

// --k8s.cri-endpoint as the daemon and `list` use it: "auto" = the first socket of
// k8s_endpoint_candidates() that exists under host_root (unix://...); "" = none (off).
std::string resolve_cri_endpoint(const K8sOptions& o);

} // namespace tif

// A CRI (runtime.v1) client for pod identity: ListPodSandbox, then PodSandboxStatus(verbose)
// once per new sandbox for its pid and netns path (containerd's verbose "info" JSON; CRI-O's
// has the same "pid" and "runtimeSpec"). Synchronous gRPC with a deadline on every call: it
// runs on the resolver's own thread, never on the io_context or in a scrape.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"

namespace tif {

struct CriPod {
    std::string id; // sandbox id
    std::string namespace_, name, uid;
    bool ready = false;
    int64_t pid = 0;        // the sandbox (pause) process, host pid; 0 = unknown
    std::string netns_path; // e.g. /var/run/netns/cni-…; "" = unknown (or host network)
    bool host_network = false;
    std::map<std::string, std::string> labels; // the sandbox's (the pod's) labels
};

struct CriErrors {
    std::atomic<uint64_t> list{0};   // ListPodSandbox
    std::atomic<uint64_t> status{0}; // PodSandboxStatus
};

class CriClient {
  public:
    // endpoint: "unix:///run/containerd/containerd.sock" (a bare path gets unix:// prepended).
    CriClient(std::string endpoint, std::chrono::milliseconds deadline);
    ~CriClient();
    CriClient(const CriClient&) = delete;
    CriClient& operator=(const CriClient&) = delete;

    // Every sandbox the runtime lists, with pid/netns from a cached (or new) verbose status.
    // An error when ListPodSandbox failed; a failed status leaves that pod's pid/netns empty.
    Result<std::vector<CriPod>> list_pods();
    const CriErrors& errors() const { return errors_; }
    const std::string& endpoint() const { return endpoint_; }

  private:
    void connect();
    struct Impl;
    std::string endpoint_;
    std::chrono::milliseconds deadline_;
    std::unique_ptr<Impl> impl_;
    CriErrors errors_;
    std::map<std::string, CriPod> status_cache_; // by sandbox id: pid and netns never change
};

// containerd's and CRI-O's verbose status "info" value: {"pid":…, "runtimeSpec":{"linux":
// {"namespaces":[{"type":"network","path":…}]}}} → pid and netns path (exposed for tests).
void parse_verbose_info(const std::string& json_text, CriPod& out);

} // namespace tif

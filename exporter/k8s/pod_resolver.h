// The k8s module's worker: on its own thread (so a slow or dead runtime never blocks the
// io_context or a scrape) it lists the pods every relist interval, and soon after the netlink
// side reports a veth into a namespace it does not know (PodDirectory::wake), then publishes
// netns inode / nsid → pod in the PodDirectory.
//
// Source of identity, in order: the CRI runtime (names, uid; netns from the verbose status);
// when the runtime cannot be reached, each foreign network namespace's processes'
// /proc/<pid>/cgroup (pod uid only; names from what the runtime said before, by uid).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "core/result.h"
#include "k8s/cri_client.h"
#include "k8s/pod_directory.h"

namespace tif {

enum class IdentitySource { off, cri, cgroup };
std::string_view identity_source_name(IdentitySource s);

struct PodResolverConfig {
    std::string endpoint;  // "" = no runtime: source off
    std::string host_root; // prefix for /proc and netns paths ("" = /)
    std::chrono::milliseconds relist{10'000};
    std::chrono::milliseconds cri_deadline{2'000};
    uint64_t host_netns_ino = 0;
    // The cgroup v2 hierarchy for hostNetwork pods' sockets: "auto" (pod_cgroups.h), a
    // directory, or "" (off).
    std::string cgroup_root = "auto";
    std::vector<std::string> pod_labels; // keys copied into PodIdentity::labels
};

class PodResolver {
  public:
    PodResolver(PodResolverConfig cfg, std::shared_ptr<PodDirectory> dir);
    ~PodResolver();
    PodResolver(const PodResolver&) = delete;
    PodResolver& operator=(const PodResolver&) = delete;

    void start();
    void stop();
    void wake(); // relist now, and a few times more over the next seconds

    IdentitySource source() const { return source_.load(std::memory_order_relaxed); }
    const CriErrors* cri_errors() const { return cri_ ? &cri_->errors() : nullptr; }
    uint64_t passes() const { return passes_.load(std::memory_order_relaxed); }
    // Why the runtime could not be asked at the last failed ListPodSandbox ("" = never failed).
    std::string last_error() const {
        std::lock_guard lk(error_mu_);
        return last_error_;
    }

  private:
    void run();
    void pass();
    bool from_cri(std::vector<PodNetns>& out);
    void from_cgroups(std::vector<PodNetns>& out);
    void scan_cgroups();
    void set_source(IdentitySource s, const std::string& why);

    PodResolverConfig cfg_;
    std::shared_ptr<PodDirectory> dir_;
    std::unique_ptr<CriClient> cri_;
    std::map<std::string, PodIdentity> by_uid_; // names the runtime gave, for the fallback
    std::atomic<IdentitySource> source_{IdentitySource::off};
    std::atomic<uint64_t> passes_{0};
    bool logged_first_ = false;
    bool cgroup_root_checked_ = false;
    bool cgroup_scan_truncated_logged_ = false;
    std::string cgroup_root_; // "" = none: hostNetwork pods' sockets stay unnamed
    mutable std::mutex error_mu_;
    std::string last_error_; // written by the resolver thread under error_mu_

    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    int burst_ = 0; // extra passes at 1 s spacing after a wake
    std::thread thread_;
};

// The inode of a network namespace file (a netns bind mount or /proc/<pid>/ns/net); 0 = none.
uint64_t netns_ino_of(const std::string& path);
// Its id in the caller's network namespace (RTM_GETNSID); -1 when none is assigned or on error.
int32_t netns_id_of(const std::string& path);

} // namespace tif

// Which pod a network namespace belongs to: netns inode (what the probes carry) and the netns id
// the host's rtnetlink gives a veth's peer (IFLA_LINK_NETNSID) → {namespace, pod, uid}.
//
// Written by the k8s module's resolver thread (pod_resolver.h), read on the io_context (the
// retransmit lines) and by scrapes (traceiface_interface_info): every call takes the mutex,
// lookups are a map find and a string copy. A pod that vanished stays for `retain` so that
// late events and the gone interface's series still name it. Pure: no system calls.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tif {

struct PodIdentity {
    std::string namespace_;                    // Kubernetes namespace
    std::string pod;                           // pod name
    std::string uid;                           // pod uid (log lines only; never a metric label)
    std::map<std::string, std::string> labels; // only the keys of --k8s.pod-labels
    bool operator==(const PodIdentity&) const = default;
};

// One pod network namespace as the resolver found it.
struct PodNetns {
    uint64_t netns_ino = 0;
    int32_t nsid = -1; // its id in our namespace (RTM_GETNSID); -1 = none assigned
    PodIdentity id;
};

// A pod's cgroup (cgroup v2 id): whose are the sockets of hostNetwork pods (pod_cgroups.h).
struct PodCgroup {
    uint64_t cgroup_id = 0;
    PodIdentity id;           // names empty where the runtime never named the uid
    std::string container_id; // "" for the pod-level cgroup
};

class PodDirectory {
  public:
    using Clock = std::chrono::steady_clock;
    explicit PodDirectory(Clock::duration retain = std::chrono::minutes(5)) : retain_(retain) {}

    std::optional<PodIdentity> by_netns_ino(uint64_t ino) const;
    std::optional<PodIdentity> by_nsid(int32_t nsid) const;
    std::optional<PodCgroup> by_cgroup(uint64_t cgroup_id) const;
    // by_cgroup, and when the id is unknown and new (not asked about before), a relist now:
    // a new container's sockets are then named within about a second, not a relist interval.
    // The node's own cgroups (never a pod's) ask once each; at most 4096 are remembered.
    std::optional<PodCgroup> by_cgroup_or_wake(uint64_t cgroup_id) const;
    // A link into namespace `nsid` appeared or got its peer's namespace (a CNI plugin's veth
    // first shows no netnsid; the next message has it): when no pod is known there, a relist
    // now, at most once per nsid every 30 s (namespaces that are no pod's stay unknown).
    void wake_for_nsid(int32_t nsid, Clock::time_point now = Clock::now()) const;
    // A host interface (its ifindex here) whose peer is in namespace `nsid`: by_nsid, and
    // remembered per ifindex, so that the veth still names its pod after the pod's namespace
    // went (its last rtnetlink message no longer carries IFLA_LINK_NETNSID) while its series
    // stays for the grace period. Ifindexes are not reused while the kernel has free ones.
    std::optional<PodIdentity> by_link(uint32_t ifindex, int32_t nsid,
                                       Clock::time_point now = Clock::now()) const;

    // The resolver's complete view: these are live now; entries it no longer lists are kept
    // for `retain` after they were last seen, unless a live one took their inode or nsid (the
    // kernel reuses nsids once a namespace is gone).
    void publish(const std::vector<PodNetns>& live, Clock::time_point now = Clock::now());
    // The same for pod cgroups (kept `retain` after they were last seen, for late events).
    void publish_cgroups(const std::vector<PodCgroup>& live, Clock::time_point now = Clock::now());
    size_t cgroup_count() const;
    size_t cgroup_live_count() const;
    // --k8s.pod-labels: the pod label keys every interface_info sample carries, and their
    // metric label names (label_<key>, config/k8s_options.h). Set before start, then read-only.
    void set_label_keys(std::vector<std::string> keys, std::vector<std::string> metric_names) {
        label_keys_ = std::move(keys);
        label_names_ = std::move(metric_names);
    }
    const std::vector<std::string>& label_keys() const { return label_keys_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    // Pod identity is on (a runtime endpoint was found): lines of sockets in the node's netns
    // then say host_network.
    void set_active(bool yes) { active_.store(yes, std::memory_order_relaxed); }
    bool active() const { return active_.load(std::memory_order_relaxed); }
    // Whether the node has a cgroup v2 hierarchy to name hostNetwork pods' sockets by.
    void set_cgroups_available(bool yes);
    bool cgroups_available() const;
    size_t live_count() const;
    size_t size() const;

    // The netlink side asks for a relist when a veth into an unknown namespace appears.
    void set_wake(std::function<void()> wake);
    void set_retain(Clock::duration retain);
    void wake() const;

  private:
    struct Entry {
        PodNetns p;
        Clock::time_point last_seen;
        bool live = false;
    };
    mutable std::mutex mu_;
    Clock::duration retain_;
    std::map<uint64_t, Entry> by_ino_;
    std::map<int32_t, uint64_t> nsid_to_ino_;
    struct LinkEntry {
        PodIdentity id;
        Clock::time_point touched;
    };
    mutable std::map<uint32_t, LinkEntry> by_link_;
    struct CgroupEntry {
        PodCgroup c;
        Clock::time_point last_seen;
        bool live = false;
    };
    std::map<uint64_t, CgroupEntry> by_cgroup_;
    mutable std::set<uint64_t> unknown_cgroups_;
    mutable std::map<int32_t, Clock::time_point> woken_for_nsid_;
    bool cgroups_available_ = false;
    std::atomic<bool> active_{false};
    std::vector<std::string> label_keys_, label_names_;
    std::function<void()> wake_;
};

} // namespace tif

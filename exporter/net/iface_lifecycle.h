// One lifecycle for every per-interface series (issue 24).
//
// The TCP probes count in per-CPU hashes keyed by interface (a tif_iface_ref at the start of
// the key). An IfaceKeyedMap is one such map as the lifecycle sees it; IfaceLifecycle sweeps
// them all on the io_context (never on the scrape path):
//   - a key whose interface is gone (IfaceLiveness) is marked dead at the first sweep that
//     sees it so (a key whose counts still grow is in use whatever the liveness check says,
//     e.g. a namespace the daemon cannot see: its grace starts over); after --iface.stale-grace it
//     is deleted from the kernel map, so its series leave /metrics and the space is reused. After a
//     restart that adopted the pinned maps the first sweep is the start: keys of interfaces that
//     vanished meanwhile get the grace from start-up.
//   - an interface that comes back under the same name within the grace continues: its new
//     key renders the same label, and the collectors sum the keys of a label. When a dead key
//     is deleted while another key of the map still renders its label (and carries the same
//     key suffix, e.g. the histogram kind), its counts are carried in user space on that key,
//     so the summed series never goes backwards. When no key renders the label any more the
//     series ends; a new interface taking the name later starts a new series from 0 (after
//     the gap Prometheus sees a new series, which rate() reads as a reset).
//   - a map at 3/4 of its capacity evicts dead keys early, oldest-dead first, down to 1/2
//     (the headroom takes the keys new interfaces add until the next sweep, which comes
//     within a second while a map is half full): churn alone
//     never fills it, the overflow entry is left for more live interfaces than fit.
//   - labels that no key renders any more are announced to the label-state owners (the log
//     limiter's suppressed counts, the exemplars) so they drop them in the same sweep.
// Later label sources plug in with add_map() (another keyed map) or on_labels_gone().
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "metrics_registry.h"
#include "net/carry_store.h"
#include "net/iface_label.h"
#include "net/iface_liveness.h"

namespace tif {

class IfaceKeyedMap {
  public:
    // fd: a BPF_MAP_TYPE_PERCPU_HASH whose key starts with a tif_iface_ref and whose value is
    // value_u64s u64 fields. `names`: the same lookup the collectors label with.
    // carry_fd: the CarryStore map pinned with it (-1: none; carries then end with the
    // process), whose contents a predecessor left are taken over now.
    IfaceKeyedMap(std::string name, int fd, uint32_t key_size, uint32_t value_u64s,
                  uint32_t max_entries, uint32_t host_netns_ino, IfNameLookup names,
                  int carry_fd = -1);

    struct Carried {
        std::string key;             // raw kernel key bytes (key_size) carrying the counts
        std::vector<uint64_t> value; // summed over CPUs, value_u64s fields
    };
    // Counts of deleted keys, each on the live key that renders their label (thread-safe).
    std::vector<Carried> carried() const;
    // Held by a reader across its walk of the map and append_carried(): a sweep deleting a
    // key and carrying its counts in between would count them twice.
    std::unique_lock<std::mutex> hold_sweep() const { return std::unique_lock(sweep_mu_); }
    // Appends the carried counts to samples read from the map (K, V as in the probe).
    template <class S, class K, class V>
    void append_carried(std::vector<S>& out, K S::*key, V S::*val) const {
        for (const auto& c : carried()) {
            S s{};
            std::memcpy(&(s.*key), c.key.data(), sizeof(K));
            std::memcpy(&(s.*val), c.value.data(), sizeof(V));
            out.push_back(s);
        }
    }

    struct SweepStats {
        size_t entries = 0; // after the sweep
        uint64_t deleted_grace = 0, deleted_capacity = 0;
    };
    // One pass: marks, deletes, carries. Adds the labels still rendered to `labels`.
    SweepStats sweep(const IfaceLiveness& live, int64_t now_ns, int64_t grace_ns,
                     std::set<std::string>& labels);

    const std::string& name() const { return name_; }
    uint32_t max_entries() const { return max_entries_; }
    size_t entries() const;
    uint64_t deleted(bool capacity) const;
    // Per value field, the counts of deleted keys whose series ended (no key renders their
    // label any more): totals over every interface, such as events_held_total, add them so
    // they never go backwards when a vanished interface's key leaves.
    std::vector<uint64_t> retired() const;

  private:
    std::string label_of(const std::string& key) const;
    Result<std::vector<uint64_t>> read_value(const std::string& key) const;

    std::string name_;
    int fd_;
    uint32_t key_size_, value_u64s_, max_entries_, host_netns_ino_;
    IfNameLookup names_;
    struct Dead {
        int64_t since;              // the first sweep that saw it dead (and idle)
        std::vector<uint64_t> last; // its counts then: a key still counting is in use
    };
    std::map<std::string, Dead> dead_since_; // raw key -> when it died
    mutable std::mutex sweep_mu_;            // deletes + carries vs. readers
    mutable std::mutex mu_;                  // guards what scrapes read:
    std::map<std::string, std::vector<uint64_t>> carry_;
    std::vector<uint64_t> retired_;
    std::optional<CarryStore> store_;
    size_t entries_ = 0;
    uint64_t deleted_grace_ = 0, deleted_capacity_ = 0;
};

class IfaceLifecycle {
  public:
    IfaceLifecycle(uint32_t host_netns_ino, uint64_t grace_ns);

    void add_map(std::shared_ptr<IfaceKeyedMap> m);
    // Called on the io_context with the labels no key renders any more.
    void on_labels_gone(std::function<void(const std::vector<std::string>&)> fn);
    // The sweep interval: min(grace/4, 30 s), at least 1 s; 1 s while a map is half full.
    static uint64_t interval_ns(uint64_t grace_ns);
    // First sweep now, then every interval_ns(grace).
    void start(boost::asio::io_context& io);
    void stop();
    void sweep_once(int64_t now_ns); // for tests; start() calls it
    IfaceLiveness& liveness() { return live_; }

    // traceiface_bpf_map_entries / _max_entries / _keys_deleted_total {map}.
    std::unique_ptr<Collector> collector() const;

  private:
    void arm();
    IfaceLiveness live_;
    uint64_t grace_ns_;
    std::vector<std::shared_ptr<IfaceKeyedMap>> maps_;
    std::vector<std::function<void(const std::vector<std::string>&)>> gone_fns_;
    std::set<std::string> labels_; // rendered at the last sweep
    std::unique_ptr<boost::asio::steady_timer> timer_;
};

} // namespace tif

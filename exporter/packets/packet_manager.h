// Decides which interfaces the tc counters watch and keeps the kernel in step: on every link
// change from the netlink watcher it attaches, follows (rename, MTU, flaps) or releases, within
// the --iface.include/--iface.exclude filter and the --iface.max cap. It also keeps what the
// collector needs (labels and slots) under one lock, so a slot is never reused mid-scrape.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "net/iface_table.h"
#include "net/slot_allocator.h"
#include "net/tc_attach_mode.h"
#include "net/tcx_link.h"
#include "packets/tc_stats_probe.h"

namespace tif {

struct IfaceFilter {
    std::regex include;
    std::optional<std::regex> exclude; // none: exclude nothing
    bool matches(const std::string& name) const;
};

// One interface's labels and counters as /metrics shows them.
struct IfaceSeries {
    LinkMsg link;       // last known state (name, MTU, oper state, ...)
    std::string kind;   // IfaceTable::kind_of
    std::string master; // name of the master device, "" when none
    std::string
        link_name;     // name of IFLA_LINK in our namespace (vlan: lower device; veth: peer), or ""
    bool gone = false; // vanished or released: shown until the grace period ends
    tif_tc_counts dir[2]{}; // by TcDir
};

// How the tc programs reach the interfaces: tcx links (pinned under pin_dir when it is not "")
// or clsact filters. Never auto here: the module resolves it against the kernel.
struct TcHook {
    TcAttach attach = TcAttach::clsact;
    std::string pin_dir; // where tcx links are pinned; "" = not pinned
};

struct PacketSnapshot {
    std::vector<IfaceSeries> ifaces;
    uint64_t watched = 0;
    uint64_t refused_total = 0;
    uint64_t attach_failures_total = 0;
};

class PacketManager {
  public:
    using Clock = SlotAllocator::Clock;
    PacketManager(TcStatsProbe& probe, TcHook hook, IfaceFilter filter, uint32_t max_ifaces,
                  Clock::duration grace);
    ~PacketManager(); // detaches every link and filter we attached

    // From the netlink watcher, on the io_context thread.
    void on_changes(const std::vector<IfaceChange>& changes, const IfaceTable& table);
    // A new --iface.include/--iface.exclude (reload): interfaces that no longer match are
    // released, newly matching ones watched; those that stay keep their counters.
    void set_filter(IfaceFilter filter, const IfaceTable& table);
    // Detach everything now (shutdown). keep_bindings: leave ifindex -> slot in the (pinned)
    // slot maps, so a successor continues the counters of the interfaces that are still there.
    void release_all(bool keep_bindings = false);
    // Before the first netlink dump: a predecessor's bindings (adopted pinned maps) keep their
    // slots for the interfaces the dump finds and we watch; the rest are freed once the dump
    // is complete, and the filters the predecessor left on them are removed.
    void adopt(const std::vector<std::pair<uint32_t, tif_tc_slot>>& bindings);
    // For the collector (any thread): reads the counters under the lock.
    Result<PacketSnapshot> snapshot();

  private:
    struct Watched {
        uint32_t slot = 0;
        uint32_t prog_id[2] = {0, 0}; // clsact: the filters' programs, by TcDir
        bool created_qdisc = false;
        TcxLink link[2]; // tcx: by TcDir
    };
    struct SlotLabels {
        uint32_t ifindex = 0;
        LinkMsg link;
    };
    void handle(const IfaceChange& c, const IfaceTable& table);
    bool watch(const LinkMsg& l);
    void unwatch(uint32_t ifindex, bool device_gone, bool keep_binding = false);
    void settle_adopted(const IfaceTable& table);
    Status attach(uint32_t ifindex, Watched& w);     // by hook_.attach
    void detach(uint32_t ifindex, Watched& w);       // what attach() did, on a live device
    void drop_leftovers(uint32_t ifindex, bool tcx); // ours, of one attach kind
    void drop_tcx_pin(const std::string& pin);       // a predecessor's link; failures logged
    void retry_refused(const IfaceTable& table);
    std::string name_of(uint32_t ifindex) const; // master/lower label values

    TcStatsProbe& probe_;
    TcHook hook_;
    IfaceFilter filter_;
    uint32_t max_;
    std::mutex mu_;
    SlotAllocator slots_;
    std::vector<SlotLabels> labels_; // by slot
    std::map<uint32_t, Watched> watched_;
    std::map<uint32_t, std::string> names_; // every link of the namespace, for master/lower
    std::set<uint32_t> refused_;            // ifindexes over the cap, retried when room frees up
    std::map<uint32_t, uint32_t> adopted_;  // a predecessor's ifindex -> slot, not yet watched
    bool settled_ = false;                  // adopted_ resolved against a complete dump
    uint64_t refused_total_ = 0;
    uint64_t attach_failures_ = 0;
};

} // namespace tif

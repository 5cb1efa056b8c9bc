// Pinned counter maps under --bpf.pin-path, so counters survive a restart: a new instance
// reuses the maps its predecessor pinned when their layout still fits, and replaces them (and
// says why) when it does not, e.g. after an upgrade or a different --iface.max.
//
// Layout: DIR/<object>/<map> (bpffs refuses dots in names, hence a directory per object), and
// DIR/<object>/prog_ids, the ids of the programs recent instances attached outside of the
// process (tc filters), so a successor recognises them without CAP_SYS_ADMIN.
//
// The daemon holds an exclusive flock on DIR while it runs: a second instance on the same
// directory runs unpinned (it must not adopt, or free, bindings a live instance owns), and
// `traceiface cleanup` refuses to remove what a running daemon uses.
#pragma once

#include <bpf/libbpf.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpf/bpf_raii.h"
#include "core/result.h"
#include "metrics_registry.h"

namespace tif {

class PinStore {
  public:
    // What prepare() found for one object's maps.
    enum class Outcome { unpinned, created, adopted, replaced };

    // dir "": pinning disabled (every call is then a no-op). Creates dir when missing; refuses
    // a directory outside bpffs. EWOULDBLOCK: another instance holds it.
    static Result<std::shared_ptr<PinStore>> open(const std::string& dir);
    // failed: a pin path was asked for but open() refused it; each object's maps are then
    // reported unpinned (traceiface_bpf_pinned_maps), so the loss of continuity can alert.
    static std::shared_ptr<PinStore> disabled(bool failed = false);

    bool enabled() const { return !dir_.empty(); }
    const std::string& dir() const { return dir_; }

    // Before the object is loaded (after sizing its maps): points the named maps at their pins.
    // They are adopted together or not at all (a counter array without the slot map that says
    // whose counts they are is useless): when any pin is missing or its type, key, value,
    // max_entries or flags differ, the existing pins are removed and libbpf pins new maps.
    // When the pins cannot be used at all (EACCES, ...) it warns and leaves the maps unpinned.
    Outcome prepare(bpf_object* obj, const std::string& object,
                    const std::vector<std::string>& maps);

    // Records the ids of the programs this instance attaches outside the process (tc filters)
    // and returns those recent predecessors recorded. No-op (empty) when disabled.
    Result<std::vector<uint32_t>> swap_prog_ids(const std::string& object,
                                                const std::vector<uint32_t>& ids);

    // traceiface_pinned_maps{object,outcome}: what each object's maps were at start-up.
    std::unique_ptr<Collector> collector() const;

  private:
    PinStore(std::string dir, UniqueFd lock) : dir_(std::move(dir)), lock_(std::move(lock)) {}
    Result<Outcome> prepare_pins(bpf_object* obj, const std::string& object,
                                 const std::vector<std::string>& maps);
    struct Seen {
        std::string object;
        Outcome outcome;
    };
    std::string dir_;
    UniqueFd lock_; // the directory itself, flock()ed
    std::vector<Seen> seen_;
    const char* fs_state_ = "off"; // traceiface_bpf_pin_filesystem{state}
};

std::string_view pin_outcome_name(PinStore::Outcome o);

// Mounts a BPF filesystem at dir unless one is there; returns whether it mounted one.
Result<bool> mount_bpffs(const std::string& dir);

// Object subdirectories a PinStore creates (cleanup removes only these).
const std::vector<std::string>& pinned_objects();

} // namespace tif

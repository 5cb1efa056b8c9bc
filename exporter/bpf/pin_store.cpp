#include "bpf/pin_store.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>

#include "log/log.h"

namespace tif {

namespace {

constexpr uint32_t kProgIdSlots = 8; // ids of the last few instances (two tc programs each)

constexpr const char* kBpffs = "/sys/fs/bpf";

bool on_bpffs(const char* path) {
    struct statfs fs {};
    return ::statfs(path, &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

// Hosts booted by systemd have bpffs at /sys/fs/bpf; minimal hosts, containers and fresh CI
// machines often do not, and without it nothing can be pinned. As bpftool and the Cilium agent
// do, mount it at its standard place (only there: any other directory is the user's choice).
// Returns whether it mounted one.
Result<bool> mount_bpffs_for(const std::string& dir) {
    const std::string root = kBpffs;
    if (dir != root && dir.rfind(root + "/", 0) != 0)
        return false;
    return mount_bpffs(root);
}

Status ensure_dir(const std::string& path) {
    if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
        return os_error(errno, "create pin directory " + path);
    return Ok{};
}

// Why the pinned map at `path` cannot stand in for `want`, or "" when it can. ENOENT: no pin.
Result<std::string> incompatibility(const std::string& path, const bpf_map* want) {
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd)
        return os_error(errno, "open pinned map " + path);
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
        return std::string("not a map");
    const auto differs = [](const char* what, uint64_t pinned, uint64_t now) {
        return std::string(what) + " " + std::to_string(pinned) + " != " + std::to_string(now);
    };
    if (info.type != uint32_t(bpf_map__type(want)))
        return differs("type", info.type, bpf_map__type(want));
    if (info.key_size != bpf_map__key_size(want))
        return differs("key_size", info.key_size, bpf_map__key_size(want));
    if (info.value_size != bpf_map__value_size(want))
        return differs("value_size", info.value_size, bpf_map__value_size(want));
    if (info.max_entries != bpf_map__max_entries(want))
        return differs("max_entries", info.max_entries, bpf_map__max_entries(want));
    if (info.map_flags != bpf_map__map_flags(want))
        return differs("map_flags", info.map_flags, bpf_map__map_flags(want));
    return std::string();
}

} // namespace

Result<bool> mount_bpffs(const std::string& dir) {
    if (on_bpffs(dir.c_str()))
        return false;
    if (::mount("bpf", dir.c_str(), "bpf", 0, "mode=0700") != 0)
        return os_error(errno, "mount -t bpf bpf " + dir);
    Log::msg(Level::info, "mounted a BPF filesystem for the pins", Fields{{"path", dir}});
    return true;
}

std::string_view pin_outcome_name(PinStore::Outcome o) {
    switch (o) {
    case PinStore::Outcome::unpinned:
        return "unpinned";
    case PinStore::Outcome::created:
        return "created";
    case PinStore::Outcome::adopted:
        return "adopted";
    case PinStore::Outcome::replaced:
        return "replaced";
    }
    return "?";
}

const std::vector<std::string>& pinned_objects() {
    static const std::vector<std::string> objs = {"tc_stats", "tcp_retransmit", "tcp_latency"};
    return objs;
}

std::shared_ptr<PinStore> PinStore::disabled(bool failed) {
    auto store = std::shared_ptr<PinStore>(new PinStore("", UniqueFd()));
    store->fs_state_ = failed ? "unavailable" : "off";
    return store;
}

Result<std::shared_ptr<PinStore>> PinStore::open(const std::string& dir) {
    if (dir.empty())
        return disabled();
    auto mounted = mount_bpffs_for(dir);
    if (!mounted)
        return mounted.error();
    if (auto st = ensure_dir(dir); !st)
        return st.error();
    struct statfs fs {};
    if (::statfs(dir.c_str(), &fs) != 0)
        return os_error(errno, "statfs " + dir);
    if (fs.f_type != BPF_FS_MAGIC)
        return Error{EINVAL, "--bpf.pin-path " + dir +
                                 " is not on a BPF filesystem (mount -t bpf "
                                 "bpf /sys/fs/bpf)"};
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        return os_error(errno, "open pin directory " + dir);
    // Exclusive while we run: two live instances must not adopt each other's slot bindings.
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
        return os_error(errno, "lock pin directory " + dir + " (another traceiface uses it)");
    auto store = std::shared_ptr<PinStore>(new PinStore(dir, std::move(fd)));
    store->fs_state_ = *mounted ? "mounted" : "present";
    return store;
}

PinStore::Outcome PinStore::prepare(bpf_object* obj, const std::string& object,
                                    const std::vector<std::string>& maps) {
    if (!enabled()) {
        if (std::string_view(fs_state_) == "unavailable")
            seen_.push_back({object, Outcome::unpinned});
        return Outcome::unpinned;
    }
    auto out = prepare_pins(obj, object, maps);
    if (out) {
        seen_.push_back({object, *out});
        Log::msg(Level::info, "pinned maps",
                 Fields{{"object", object},
                        {"outcome", std::string(pin_outcome_name(*out))},
                        {"dir", dir_ + "/" + object}});
        return *out;
    }
    // The probe still works, only its counters will not survive a restart: say so, go on.
    Log::msg(Level::warn, "cannot pin maps; counters restart with the process",
             Fields{{"object", object}, {"error", out.error().message()}});
    seen_.push_back({object, Outcome::unpinned});
    return Outcome::unpinned;
}

Result<PinStore::Outcome> PinStore::prepare_pins(bpf_object* obj, const std::string& object,
                                                 const std::vector<std::string>& maps) {
    const std::string sub = dir_ + "/" + object;
    if (auto st = ensure_dir(sub); !st)
        return st.error();
    size_t present = 0;
    std::string why; // the first reason the pinned set cannot be adopted
    std::vector<std::pair<bpf_map*, std::string>> todo;
    for (const auto& name : maps) {
        bpf_map* m = bpf_object__find_map_by_name(obj, name.c_str());
        if (!m)
            return Error{ENOENT, "pin " + object + ": no map named " + name};
        std::string path = sub + "/" + name;
        auto bad = incompatibility(path, m);
        if (!bad && bad.error().err != ENOENT)
            return bad.error(); // e.g. EACCES: a pin of another user; ours to report, not delete
        if (bad) {
            ++present;
            if (why.empty() && !bad->empty())
                why = name + ": " + *bad;
        } else if (why.empty()) {
            why = name + ": not pinned";
        }
        todo.emplace_back(m, std::move(path));
    }
    Outcome out = present == 0 ? Outcome::created
                               : (present == maps.size() && why.empty() ? Outcome::adopted
                                                                        : Outcome::replaced);
    if (out == Outcome::replaced) {
        for (const auto& [m, path] : todo)
            if (::unlink(path.c_str()) != 0 && errno != ENOENT)
                return os_error(errno, "remove incompatible pinned map " + path);
        Log::msg(Level::warn, "pinned maps replaced: their layout changed; counters restart",
                 Fields{{"object", object}, {"reason", why}, {"dir", sub}});
    }
    for (const auto& [m, path] : todo)
        if (int err = bpf_map__set_pin_path(m, path.c_str()))
            return os_error(err, "set pin path " + path);
    return out;
}

Result<std::vector<uint32_t>> PinStore::swap_prog_ids(const std::string& object,
                                                      const std::vector<uint32_t>& ids) {
    std::vector<uint32_t> old;
    if (!enabled())
        return old;
    const std::string path = dir_ + "/" + object + "/prog_ids";
    UniqueFd fd(bpf_obj_get(path.c_str()));
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (fd &&
        (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0 || info.type != BPF_MAP_TYPE_ARRAY ||
         info.key_size != 4 || info.value_size != 4 || info.max_entries != kProgIdSlots)) {
        fd.reset();
        ::unlink(path.c_str()); // a different layout: start the record afresh
    }
    if (fd) {
        for (uint32_t k = 0; k < kProgIdSlots; ++k) {
            uint32_t v = 0;
            if (bpf_map_lookup_elem(fd.get(), &k, &v) == 0 && v != 0)
                old.push_back(v);
        }
    } else {
        fd = UniqueFd(
            bpf_map_create(BPF_MAP_TYPE_ARRAY, "tif_prog_ids", 4, 4, kProgIdSlots, nullptr));
        if (!fd)
            return os_error(errno, "create map " + path);
        if (bpf_obj_pin(fd.get(), path.c_str()) != 0)
            return os_error(errno, "pin " + path);
    }
    std::vector<uint32_t> now = ids;
    for (uint32_t id : old)
        if (std::find(now.begin(), now.end(), id) == now.end())
            now.push_back(id);
    now.resize(kProgIdSlots, 0);
    for (uint32_t k = 0; k < kProgIdSlots; ++k)
        if (bpf_map_update_elem(fd.get(), &k, &now[k], BPF_ANY) != 0)
            return os_error(errno, "record program ids in " + path);
    return old;
}

namespace {
class PinCollector : public Collector {
  public:
    PinCollector(std::vector<std::pair<std::string, std::string>> seen, std::string fs_state)
        : seen_(std::move(seen)), fs_state_(std::move(fs_state)) {}
    std::string_view name() const override { return "pins"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto f = make_family("traceiface_bpf_pinned_maps",
                             "Per probe object, what start-up found in --bpf.pin-path: adopted "
                             "(counters continue), created, replaced (layout changed), unpinned.",
                             prometheus::MetricType::Gauge);
        for (const auto& [object, outcome] : seen_)
            add_sample(f, {{"object", object}, {"outcome", outcome}}, 1);
        out.push_back(std::move(f));
        auto fs = make_family("traceiface_bpf_pin_filesystem",
                              "The BPF filesystem under --bpf.pin-path: present, mounted (by "
                              "this exporter, none was there), unavailable (pins refused: see the "
                              "warn line), off (--bpf.pin-path=\"\").",
                              prometheus::MetricType::Gauge);
        add_sample(fs, {{"state", fs_state_}}, 1);
        out.push_back(std::move(fs));
        return Ok{};
    }

  private:
    std::vector<std::pair<std::string, std::string>> seen_;
    std::string fs_state_;
};
} // namespace

std::unique_ptr<Collector> PinStore::collector() const {
    std::vector<std::pair<std::string, std::string>> seen;
    for (const auto& s : seen_)
        seen.emplace_back(s.object, std::string(pin_outcome_name(s.outcome)));
    return std::make_unique<PinCollector>(std::move(seen), fs_state_);
}

} // namespace tif

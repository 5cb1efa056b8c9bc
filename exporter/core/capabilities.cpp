#include "core/capabilities.h"

#include <bpf/bpf.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>

#include "bpf/bpf_raii.h"

namespace tif {

namespace {

constexpr std::array<const char*, 41> kNames = {"CAP_CHOWN",
                                                "CAP_DAC_OVERRIDE",
                                                "CAP_DAC_READ_SEARCH",
                                                "CAP_FOWNER",
                                                "CAP_FSETID",
                                                "CAP_KILL",
                                                "CAP_SETGID",
                                                "CAP_SETUID",
                                                "CAP_SETPCAP",
                                                "CAP_LINUX_IMMUTABLE",
                                                "CAP_NET_BIND_SERVICE",
                                                "CAP_NET_BROADCAST",
                                                "CAP_NET_ADMIN",
                                                "CAP_NET_RAW",
                                                "CAP_IPC_LOCK",
                                                "CAP_IPC_OWNER",
                                                "CAP_SYS_MODULE",
                                                "CAP_SYS_RAWIO",
                                                "CAP_SYS_CHROOT",
                                                "CAP_SYS_PTRACE",
                                                "CAP_SYS_PACCT",
                                                "CAP_SYS_ADMIN",
                                                "CAP_SYS_BOOT",
                                                "CAP_SYS_NICE",
                                                "CAP_SYS_RESOURCE",
                                                "CAP_SYS_TIME",
                                                "CAP_SYS_TTY_CONFIG",
                                                "CAP_MKNOD",
                                                "CAP_LEASE",
                                                "CAP_AUDIT_WRITE",
                                                "CAP_AUDIT_CONTROL",
                                                "CAP_SETFCAP",
                                                "CAP_MAC_OVERRIDE",
                                                "CAP_MAC_ADMIN",
                                                "CAP_SYSLOG",
                                                "CAP_WAKE_ALARM",
                                                "CAP_BLOCK_SUSPEND",
                                                "CAP_AUDIT_READ",
                                                "CAP_PERFMON",
                                                "CAP_BPF",
                                                "CAP_CHECKPOINT_RESTORE"};

using CapData = std::array<__user_cap_data_struct, _LINUX_CAPABILITY_U32S_3>;

Result<CapData> capget_of(pid_t pid) {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, pid};
    CapData d{};
    if (::syscall(SYS_capget, &h, d.data()) != 0)
        return os_error(errno, "capget");
    return d;
}

uint64_t join(uint32_t lo, uint32_t hi) {
    return uint64_t(lo) | (uint64_t(hi) << 32);
}

CapState state_of(const CapData& d) {
    CapState s;
    s.effective = join(d[0].effective, d[1].effective);
    s.permitted = join(d[0].permitted, d[1].permitted);
    s.inheritable = join(d[0].inheritable, d[1].inheritable);
    for (int c = 0; c < 64; ++c) {
        int r = ::prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (r < 0)
            break; // past the kernel's last capability
        if (r == 1)
            s.bounding |= cap_bit(c);
    }
    return s;
}

Status capset_self(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    __user_cap_header_struct h{_LINUX_CAPABILITY_VERSION_3, 0};
    CapData d{};
    for (int i = 0; i < 2; ++i) {
        d[i].effective = uint32_t(effective >> (32 * i));
        d[i].permitted = uint32_t(permitted >> (32 * i));
        d[i].inheritable = uint32_t(inheritable >> (32 * i));
    }
    if (::syscall(SYS_capset, &h, d.data()) != 0)
        return os_error(errno, "capset");
    return Ok{};
}

// Before 6.5 the kernel refused every bpf() command, even a lookup through an fd we hold, to
// a caller without CAP_BPF/CAP_SYS_ADMIN while kernel.unprivileged_bpf_disabled was set. Ask
// the kernel rather than guess from versions: lower the effective set alone (the permitted one
// lets us raise it again) and try a harmless command on a scratch map.
bool bpf_works_with(uint64_t effective, const CapState& now) {
    UniqueFd map(bpf_map_create(BPF_MAP_TYPE_ARRAY, "tif_cap_probe", 4, 4, 1, nullptr));
    if (!map || !capset_self(effective, now.permitted, now.inheritable))
        return true; // cannot tell: drop as planned
    uint32_t key = 0, value = 0;
    const bool ok = bpf_map_lookup_elem(map.get(), &key, &value) == 0;
    (void)capset_self(now.effective, now.permitted, now.inheritable);
    return ok;
}

} // namespace

std::string cap_names(uint64_t mask) {
    std::string out;
    for (int c = 0; c < 64; ++c) {
        if (!(mask & cap_bit(c)))
            continue;
        if (!out.empty())
            out += ",";
        out += c < int(kNames.size()) ? kNames[size_t(c)] : "CAP_" + std::to_string(c);
    }
    return out;
}

Result<CapState> current_caps() {
    auto d = capget_of(0);
    if (!d)
        return d.error();
    return state_of(*d);
}

Status raise_permitted_caps() {
    auto now = current_caps();
    if (!now)
        return now.error();
    if ((now->effective & now->permitted) == now->permitted)
        return Ok{};
    return capset_self(now->permitted, now->permitted, now->inheritable);
}

Result<CapState> drop_caps_except(uint64_t keep) {
    auto before = current_caps();
    if (!before)
        return before.error();
    if (!bpf_works_with(before->permitted & keep, *before)) // maps are read at every scrape
        keep |= (before->permitted & cap_bit(CAP_BPF)) ? cap_bit(CAP_BPF) : cap_bit(CAP_SYS_ADMIN);
    // The bounding set first: dropping from it needs CAP_SETPCAP, itself about to go.
    if (before->effective & cap_bit(CAP_SETPCAP))
        for (int c = 0; c < 64; ++c)
            if ((before->bounding & cap_bit(c)) && !(keep & cap_bit(c)) &&
                ::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0)
                return os_error(errno, "drop " + cap_names(cap_bit(c)) + " from the bounding set");
    // Ambient capabilities (how an unprivileged user is given ours, e.g. by setpriv) would
    // survive an exec; the kernel also clears those no longer permitted, but say it outright.
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
        return os_error(errno, "clear the ambient capabilities");
    const uint64_t kept = before->permitted & keep;
    if (auto st = capset_self(kept, kept, 0); !st)
        return Error{st.error().err, "drop capabilities except " + cap_names(keep) + ": capset"};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return os_error(errno, "set no_new_privs");
    return current_caps();
}

void drop_thread_caps() {
    (void)capset_self(0, 0, 0);
}

Status keep_thread_caps(uint64_t keep) {
    auto now = current_caps();
    if (!now)
        return now.error();
    const uint64_t kept = keep & now->permitted;
    return capset_self(kept, kept, 0);
}

namespace {
class CapsCollector : public Collector {
  public:
    std::string_view name() const override { return "capabilities"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto f = make_family("traceiface_capabilities",
                             "Capabilities the exporter holds (1 per capability and set); after "
                             "start-up CAP_NET_ADMIN (tc on new interfaces), plus CAP_BPF where "
                             "the kernel refuses bpf() without it.",
                             prometheus::MetricType::Gauge);
        auto d = capget_of(::getpid()); // the main thread; the others have the same or fewer
        if (!d) {
            out.push_back(std::move(f));
            return d.error();
        }
        const CapState s = state_of(*d);
        for (auto [set, mask] : {std::pair{"effective", s.effective}, {"permitted", s.permitted}})
            for (int c = 0; c < 64; ++c)
                if (mask & cap_bit(c))
                    add_sample(f, {{"set", set}, {"capability", cap_names(cap_bit(c))}}, 1);
        out.push_back(std::move(f));
        return Ok{};
    }
};
} // namespace

std::unique_ptr<Collector> make_caps_collector() {
    return std::make_unique<CapsCollector>();
}

} // namespace tif

// PacketManager's side of the kernel: how one interface's tc programs are attached and
// detached, through tcx links or clsact filters (--bpf.tc-attach), and what a predecessor of
// the other kind left behind.
#include "log/log.h"
#include "packets/packet_manager.h"

namespace tif {

namespace {
constexpr TcDir kDirs[] = {TcDir::ingress, TcDir::egress};
}

Status PacketManager::attach(uint32_t ifindex, Watched& w) {
    const int i = int(ifindex);
    if (hook_.attach == TcAttach::tcx) {
        for (TcDir d : kDirs) {
            auto l =
                TcxLink::attach(i, d, probe_.prog_fd(d), tcx_pin_path(hook_.pin_dir, ifindex, d));
            if (!l)
                return l.error();
            w.link[int(d)] = std::move(*l);
        }
        drop_leftovers(ifindex, false);
        return Ok{};
    }
    if (auto st = tc_ensure_clsact(i, w.created_qdisc); !st)
        return st;
    // A clsact holding nothing but our own filters (a crashed predecessor's, or those of an
    // instance we take over from during a rolling update) is ours to remove later too.
    if (!w.created_qdisc)
        w.created_qdisc = tc_only_ours(i);
    for (TcDir d : kDirs) {
        auto id = tc_attach(i, d, probe_.prog_fd(d));
        if (!id)
            return id.error();
        w.prog_id[int(d)] = *id;
    }
    drop_leftovers(ifindex, true);
    return Ok{};
}

void PacketManager::detach(uint32_t ifindex, Watched& w) {
    for (TcDir d : kDirs) {
        Status st = Ok{};
        if (w.link[int(d)])
            st = w.link[int(d)].detach();
        else if (w.prog_id[int(d)] != 0)
            st = tc_detach(int(ifindex), d, w.prog_id[int(d)]);
        if (!st)
            Log::msg(Level::warn, "detach failed",
                     Fields{{"ifindex", ifindex}, {"error", st.error().message()}});
    }
    if (w.created_qdisc)
        if (auto st = tc_remove_clsact_if_empty(int(ifindex)); !st)
            Log::msg(Level::warn, "clsact removal failed",
                     Fields{{"ifindex", ifindex}, {"error", st.error().message()}});
}

// Ours of the other attach kind on a live interface: a predecessor that ran with the other
// --bpf.tc-attach, or a traceiface from before tcx. Left there, they would count every packet
// a second time.
void PacketManager::drop_leftovers(uint32_t ifindex, bool tcx) {
    if (tcx) {
        for (TcDir d : kDirs)
            if (auto pin = tcx_pin_path(hook_.pin_dir, ifindex, d); !pin.empty())
                drop_tcx_pin(pin);
        return;
    }
    bool found = false;
    for (TcDir d : kDirs) {
        // No filter at all (usually no clsact either): nothing to ask libbpf, which would log
        // the kernel's complaint about the missing qdisc.
        if (auto n = tc_count_filters(int(ifindex), d); !n || *n == 0)
            continue;
        if (auto q = tc_query(int(ifindex), d); q && *q && (*q)->ours) {
            found = true;
            if (auto st = tc_detach(int(ifindex), d, (*q)->prog_id); !st)
                Log::msg(Level::warn, "could not remove a predecessor's tc filter",
                         Fields{{"ifindex", ifindex}, {"error", st.error().message()}});
        }
    }
    if (found)
        (void)tc_remove_clsact_if_empty(int(ifindex));
}

void PacketManager::drop_tcx_pin(const std::string& pin) {
    if (auto st = tcx_drop_pin(pin); !st)
        Log::msg(Level::warn, "could not remove a predecessor's tcx link",
                 Fields{{"pin", pin}, {"error", st.error().message()}});
}

} // namespace tif

#include "net/tc_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "bpf/bpf_raii.h"
#include "net/link_parser.h"
#include "net/netlink_socket.h"
#include "tc_stats.h"

namespace tif {

namespace {

bpf_tc_hook hook_of(int ifindex, TcDir dir) {
    bpf_tc_hook h{};
    h.sz = sizeof(h);
    h.ifindex = ifindex;
    h.attach_point = dir == TcDir::ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS;
    return h;
}

bpf_tc_opts our_opts() {
    bpf_tc_opts o{};
    o.sz = sizeof(o);
    o.handle = TIF_TC_HANDLE;
    o.priority = TIF_TC_PRIORITY;
    return o;
}

std::string where(int ifindex, TcDir dir) {
    return "ifindex " + std::to_string(ifindex) + " " + std::string(tc_dir_name(dir));
}

std::string prog_name(uint32_t id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    if (!fd)
        return "";
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
        return "";
    return std::string(info.name, strnlen(info.name, sizeof(info.name)));
}

std::mutex known_mu;
std::set<uint32_t> known_ids;

bool is_known_id(uint32_t id) {
    std::lock_guard lk(known_mu);
    return known_ids.count(id) != 0;
}

} // namespace

void tc_add_known_ids(const std::vector<uint32_t>& ids) {
    std::lock_guard lk(known_mu);
    for (uint32_t id : ids)
        if (id != 0)
            known_ids.insert(id);
}

std::vector<uint32_t> tc_loaded_programs_named_ours() {
    std::vector<uint32_t> out;
    for (uint32_t id = 0; bpf_prog_get_next_id(id, &id) == 0;)
        if (is_our_prog_name(prog_name(id)))
            out.push_back(id);
    return out;
}

std::string_view tc_dir_name(TcDir d) {
    return d == TcDir::ingress ? "ingress" : "egress";
}

bool is_our_prog_name(std::string_view name) {
    return name == "tif_tc_ingress" || name == "tif_tc_egress";
}

Result<std::optional<TcFilter>> tc_query(int ifindex, TcDir dir) {
    auto h = hook_of(ifindex, dir);
    auto o = our_opts();
    int err = bpf_tc_query(&h, &o);
    // ENOENT: no filter there; EINVAL: no clsact qdisc at all.
    if (err == -ENOENT || err == -EINVAL)
        return std::optional<TcFilter>{};
    if (err)
        return os_error(err, "query tc filter at our handle/priority on " + where(ifindex, dir));
    return std::optional<TcFilter>{tc_program(o.prog_id)};
}

TcFilter tc_program(uint32_t prog_id) {
    TcFilter f{prog_id, prog_name(prog_id), false};
    f.ours = is_our_prog_name(f.prog_name) || is_known_id(f.prog_id);
    return f;
}

Status tc_ensure_clsact(int ifindex, bool& created) {
    auto h = hook_of(ifindex, TcDir::ingress);
    int err = bpf_tc_hook_create(&h); // creates clsact, which holds both hooks
    created = err == 0;
    if (err && err != -EEXIST)
        return os_error(err, "create clsact qdisc on ifindex " + std::to_string(ifindex));
    return Ok{};
}

namespace {
// The id of a program we hold an fd of: no capability needed, unlike looking up a name by id
// (CAP_SYS_ADMIN), which we no longer have once the capabilities are dropped after start.
uint32_t prog_id_of(int prog_fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    return bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0 ? info.id : 0;
}
} // namespace

Result<uint32_t> tc_attach(int ifindex, TcDir dir, int prog_fd) {
    const uint32_t own_id = prog_id_of(prog_fd);
    // Twice at most: a filter of ours can appear between the query and the attach (another
    // instance starting, e.g. in a rolling update); the second round replaces it.
    for (int round = 0;; ++round) {
        auto existing = tc_query(ifindex, dir);
        if (!existing)
            return existing.error();
        auto o = our_opts();
        o.prog_fd = prog_fd;
        if (*existing) {
            if (!(*existing)->ours && (*existing)->prog_id != own_id)
                return Error{EEXIST, "attach tc " + where(ifindex, dir) +
                                         ": a foreign program (id " +
                                         std::to_string((*existing)->prog_id) + ", \"" +
                                         (*existing)->prog_name + "\") holds our handle/priority"};
            o.flags = BPF_TC_F_REPLACE; // a predecessor's filter: take its place, never double it
        }
        auto h = hook_of(ifindex, dir);
        int err = bpf_tc_attach(&h, &o);
        if (err == -EEXIST && round == 0)
            continue;
        if (err)
            return os_error(err, "attach tc " + where(ifindex, dir));
        return o.prog_id;
    }
}

Status tc_detach(int ifindex, TcDir dir, uint32_t prog_id) {
    auto existing = tc_query(ifindex, dir);
    if (!existing)
        return existing.error();
    if (!*existing || (*existing)->prog_id != prog_id)
        return Ok{}; // gone with the device, or someone else's now: not ours to delete
    auto h = hook_of(ifindex, dir);
    auto o = our_opts();
    int err = bpf_tc_detach(&h, &o);
    if (err && err != -ENOENT && err != -ENODEV)
        return os_error(err, "detach tc " + where(ifindex, dir));
    return Ok{};
}

Result<size_t> tc_count_filters(int ifindex, TcDir dir) {
    auto fd = open_rtnl(false, false);
    if (!fd)
        return fd.error();
    struct {
        nlmsghdr h;
        tcmsg t;
    } req{};
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof(tcmsg));
    req.h.nlmsg_type = RTM_GETTFILTER;
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_seq = 1;
    req.t.tcm_family = AF_UNSPEC;
    req.t.tcm_ifindex = ifindex;
    req.t.tcm_parent =
        TC_H_MAKE(TC_H_CLSACT, dir == TcDir::ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
    if (::send(fd->get(), &req, req.h.nlmsg_len, 0) < 0)
        return os_error(errno, "send RTM_GETTFILTER dump for " + where(ifindex, dir));
    size_t count = 0;
    std::vector<std::byte> buf(64 * 1024);
    for (bool done = false; !done;) {
        ssize_t n = ::recv(fd->get(), buf.data(), buf.size(), 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return os_error(errno, "read RTM_GETTFILTER dump for " + where(ifindex, dir));
        }
        int err = 0;
        auto st = for_each_nlmsg({buf.data(), size_t(n)}, [&](const NlMsgView& m) {
            if (m.type == NLMSG_DONE)
                done = true;
            else if (m.type == NLMSG_ERROR) {
                if (m.payload.size() >= sizeof(int))
                    std::memcpy(&err, m.payload.data(), sizeof(int));
                done = true;
            } else if (m.type == RTM_NEWTFILTER && m.payload.size() >= sizeof(tcmsg)) {
                tcmsg t{};
                std::memcpy(&t, m.payload.data(), sizeof(t));
                // Each tcf_proto (prio) reports itself once with handle 0, then its filters.
                if (t.tcm_handle != 0)
                    ++count;
            }
        });
        if (!st)
            return st.error();
        if (err)
            return os_error(err, "RTM_GETTFILTER dump for " + where(ifindex, dir));
    }
    return count;
}

bool tc_only_ours(int ifindex) {
    for (TcDir d : {TcDir::ingress, TcDir::egress}) {
        auto n = tc_count_filters(ifindex, d);
        auto q = tc_query(ifindex, d);
        if (!n || !q)
            return false;
        const size_t ours = *q && (*q)->ours ? 1 : 0;
        if (*n != ours)
            return false;
    }
    return true;
}

Status tc_remove_clsact_if_empty(int ifindex) {
    for (TcDir d : {TcDir::ingress, TcDir::egress}) {
        auto n = tc_count_filters(ifindex, d);
        if (!n)
            return n.error();
        if (*n != 0)
            return Ok{}; // someone else's filters live there: the qdisc stays
    }
    bpf_tc_hook h{};
    h.sz = sizeof(h);
    h.ifindex = ifindex;
    h.attach_point = bpf_tc_attach_point(BPF_TC_INGRESS | BPF_TC_EGRESS);
    int err = bpf_tc_hook_destroy(&h);
    if (err && err != -ENOENT && err != -EINVAL && err != -ENODEV)
        return os_error(err, "remove clsact qdisc from ifindex " + std::to_string(ifindex));
    return Ok{};
}

} // namespace tif

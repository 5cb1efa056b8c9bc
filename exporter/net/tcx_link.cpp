#include "net/tcx_link.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "log/log.h"

namespace tif {

namespace {

// uapi values from Linux 6.6; Debian's libbpf 1.1 and kernel headers predate tcx. libbpf's
// generic bpf_link_create() passes them through unchanged.
constexpr int kTcxIngress = 46;   // BPF_TCX_INGRESS
constexpr int kTcxEgress = 47;    // BPF_TCX_EGRESS
constexpr uint32_t kBefore = 8;   // BPF_F_BEFORE: with no relative program, first in the chain
constexpr uint32_t kLinkTcx = 11; // BPF_LINK_TYPE_TCX

// The head of struct bpf_link_info for a tcx link: its union (8-byte aligned) starts with
// tcx.ifindex and tcx.attach_type. The kernel fills as much as we ask for.
struct TcxLinkInfo {
    uint32_t type = 0, id = 0, prog_id = 0, pad = 0;
    uint32_t ifindex = 0, attach_type = 0;
};

int attach_type(TcDir d) {
    return d == TcDir::ingress ? kTcxIngress : kTcxEgress;
}

bool link_info(int fd, TcxLinkInfo& info) {
    uint32_t len = sizeof(info);
    return bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
}

std::string where(int ifindex, TcDir dir) {
    return "tcx " + std::string(tc_dir_name(dir)) + " on ifindex " + std::to_string(ifindex);
}

} // namespace

bool tcx_supported(int prog_fd) {
    UniqueFd fd(bpf_link_create(prog_fd, 0, bpf_attach_type(kTcxIngress), nullptr));
    return !fd && errno == ENODEV;
}

Result<TcxLink> TcxLink::attach(int ifindex, TcDir dir, int prog_fd, const std::string& pin) {
    TcxLink l;
    l.pin_ = pin;
    if (!pin.empty()) {
        if (UniqueFd old(bpf_obj_get(pin.c_str())); old) {
            // A predecessor's link on this very hook: ours from now on, with our program. A
            // link whose device vanished (ifindex 0), or any other leftover, is dropped.
            TcxLinkInfo info;
            const bool here = link_info(old.get(), info) && info.type == kLinkTcx &&
                              info.ifindex == uint32_t(ifindex) &&
                              info.attach_type == uint32_t(attach_type(dir));
            if (here && bpf_link_update(old.get(), prog_fd, nullptr) == 0) {
                l.fd_ = std::move(old);
                l.id_ = info.id;
                l.took_over_ = true;
                return l;
            }
            old.reset();
            (void)tcx_drop_pin(pin);
        }
    }
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = kBefore);
    l.fd_ = UniqueFd(bpf_link_create(prog_fd, ifindex, bpf_attach_type(attach_type(dir)), &opts));
    if (!l.fd_)
        return os_error(errno, "attach " + where(ifindex, dir));
    TcxLinkInfo info;
    if (link_info(l.fd_.get(), info))
        l.id_ = info.id;
    if (!pin.empty() && bpf_obj_pin(l.fd_.get(), pin.c_str()) != 0) {
        Log::msg(Level::warn, "tcx link not pinned: a crash would detach it",
                 Fields{{"pin", pin}, {"error", os_error(errno, "pin").message()}});
        l.pin_.clear();
    }
    return l;
}

Status TcxLink::detach() {
    if (!fd_)
        return Ok{};
    Status st = Ok{};
    // ENOLINK: the device took the link down with it already.
    if (bpf_link_detach(fd_.get()) != 0 && errno != ENOLINK)
        st = os_error(errno, "detach tcx link " + std::to_string(id_));
    if (!pin_.empty() && ::unlink(pin_.c_str()) != 0 && errno != ENOENT && st)
        st = os_error(errno, "remove pin " + pin_);
    fd_.reset();
    pin_.clear();
    return st;
}

std::string tcx_pin_path(const std::string& pin_dir, uint32_t ifindex, TcDir dir) {
    if (pin_dir.empty())
        return "";
    return pin_dir + "/tcx_" + std::to_string(ifindex) + "_" + std::string(tc_dir_name(dir));
}

std::vector<TcxPin> tcx_pins(const std::string& pin_dir) {
    std::vector<TcxPin> out;
    if (pin_dir.empty())
        return out;
    DIR* d = ::opendir(pin_dir.c_str());
    if (!d)
        return out;
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (!name.starts_with("tcx_"))
            continue;
        name.remove_prefix(4);
        TcxPin p;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), p.ifindex);
        const std::string_view rest(end, size_t(name.data() + name.size() - end));
        if (ec != std::errc{} || (rest != "_ingress" && rest != "_egress"))
            continue;
        p.dir = rest == "_ingress" ? TcDir::ingress : TcDir::egress;
        p.path = pin_dir + "/" + e->d_name;
        out.push_back(std::move(p));
    }
    ::closedir(d);
    return out;
}

Status tcx_drop_pin(const std::string& path) {
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd && errno == ENOENT)
        return Ok{};
    TcxLinkInfo info;
    if (fd && link_info(fd.get(), info) && info.type == kLinkTcx && info.ifindex != 0 &&
        bpf_link_detach(fd.get()) != 0 && errno != ENOLINK)
        return os_error(errno, "detach tcx link " + std::to_string(info.id) + " of " + path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return os_error(errno, "remove pin " + path);
    return Ok{};
}

Result<std::vector<uint32_t>> tcx_query(int ifindex, TcDir dir) {
    std::vector<uint32_t> ids(64);
    LIBBPF_OPTS(bpf_prog_query_opts, q, .prog_ids = ids.data(), .prog_cnt = uint32_t(ids.size()));
    if (bpf_prog_query_opts(ifindex, bpf_attach_type(attach_type(dir)), &q) != 0) {
        if (errno == EINVAL)
            return std::vector<uint32_t>{}; // no tcx in this kernel
        return os_error(errno, "query " + where(ifindex, dir));
    }
    ids.resize(q.prog_cnt);
    return ids;
}

} // namespace tif

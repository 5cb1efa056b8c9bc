#include "k8s/pod_resolver.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/capabilities.h"
#include "k8s/cgroup_pod.h"
#include "k8s/pod_cgroups.h"
#include "log/log.h"

namespace tif {

std::string_view identity_source_name(IdentitySource s) {
    switch (s) {
    case IdentitySource::cri:
        return "cri";
    case IdentitySource::cgroup:
        return "cgroup";
    default:
        return "off";
    }
}

uint64_t netns_ino_of(const std::string& path) {
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0)
        return 0;
    return st.st_ino;
}

int32_t netns_id_of(const std::string& path) {
    int nsfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (nsfd < 0)
        return -1;
    int sock = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (sock < 0) {
        ::close(nsfd);
        return -1;
    }
    timeval tv{1, 0};
    ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct {
        nlmsghdr h;
        rtgenmsg g;
        char pad[3];
        nlattr a;
        uint32_t fd;
    } req{};
    static_assert(offsetof(decltype(req), a) == NLMSG_ALIGN(NLMSG_LENGTH(sizeof(rtgenmsg))));
    req.h.nlmsg_len = sizeof(req);
    req.h.nlmsg_type = RTM_GETNSID;
    req.h.nlmsg_flags = NLM_F_REQUEST;
    req.h.nlmsg_seq = 1;
    req.g.rtgen_family = AF_UNSPEC;
    req.a.nla_len = NLA_HDRLEN + sizeof(uint32_t);
    req.a.nla_type = NETNSA_FD;
    req.fd = uint32_t(nsfd);
    int32_t nsid = -1;
    if (::send(sock, &req, sizeof(req), 0) == ssize_t(sizeof(req))) {
        alignas(nlmsghdr) char buf[1024];
        ssize_t n = ::recv(sock, buf, sizeof(buf), 0);
        if (n >= ssize_t(NLMSG_HDRLEN)) {
            auto* h = reinterpret_cast<nlmsghdr*>(buf);
            if (NLMSG_OK(h, size_t(n)) && h->nlmsg_type == RTM_NEWNSID) {
                const size_t off = NLMSG_ALIGN(sizeof(rtgenmsg));
                auto* a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(NLMSG_DATA(h)) + off);
                size_t left = h->nlmsg_len - NLMSG_HDRLEN - off;
                while (left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left) {
                    if ((a->nla_type & NLA_TYPE_MASK) == NETNSA_NSID &&
                        a->nla_len >= NLA_HDRLEN + sizeof(int32_t))
                        std::memcpy(&nsid, reinterpret_cast<char*>(a) + NLA_HDRLEN, sizeof(nsid));
                    const size_t step = NLA_ALIGN(a->nla_len);
                    if (step >= left)
                        break;
                    left -= step;
                    a = reinterpret_cast<nlattr*>(reinterpret_cast<char*>(a) + step);
                }
            }
        }
    }
    ::close(sock);
    ::close(nsfd);
    return nsid;
}

PodResolver::PodResolver(PodResolverConfig cfg, std::shared_ptr<PodDirectory> dir)
    : cfg_(std::move(cfg)), dir_(std::move(dir)) {
    if (!cfg_.endpoint.empty())
        cri_ = std::make_unique<CriClient>(cfg_.endpoint, cfg_.cri_deadline);
}

PodResolver::~PodResolver() {
    stop();
}

void PodResolver::start() {
    if (!cri_ || thread_.joinable())
        return;
    thread_ = std::thread([this] {
        ::pthread_setname_np(::pthread_self(), "tif-k8s"); // for top -H and the bench
        // This thread (and gRPC's, created from it: cri_client.cpp) keeps only what it needs,
        // where held: CAP_SYS_PTRACE to read other processes' namespace links (their
        // permitted sets are not ours); CAP_DAC_OVERRIDE for a non-root daemon to connect to
        // the runtime's socket (root's, mode 0660) and read a host root's 0400 netns mounts;
        // CAP_DAC_READ_SEARCH for the latter where DAC_OVERRIDE was not granted.
        (void)keep_thread_caps(cap_bit(CAP_SYS_PTRACE) | cap_bit(CAP_DAC_OVERRIDE) |
                               cap_bit(CAP_DAC_READ_SEARCH));
        run();
    });
}

void PodResolver::stop() {
    {
        std::lock_guard lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
        thread_.join();
}

void PodResolver::wake() {
    {
        std::lock_guard lk(mu_);
        burst_ = 5;
    }
    cv_.notify_all();
}

void PodResolver::run() {
    std::unique_lock lk(mu_);
    while (!stop_) {
        lk.unlock();
        pass();
        lk.lock();
        if (stop_)
            break;
        if (burst_ > 0) {
            --burst_;
            cv_.wait_for(lk, std::chrono::seconds(1), [&] { return stop_; });
        } else {
            cv_.wait_for(lk, cfg_.relist, [&] { return stop_ || burst_ > 0; });
        }
    }
}

void PodResolver::set_source(IdentitySource s, const std::string& why) {
    const IdentitySource before = source_.exchange(s, std::memory_order_relaxed);
    if (before == s && logged_first_)
        return;
    logged_first_ = true;
    Fields f{{"component", "k8s"},
             {"source", std::string(identity_source_name(s))},
             {"cri_endpoint", cfg_.endpoint}};
    if (!why.empty())
        f["reason"] = why;
    Log::msg(s == IdentitySource::cri ? Level::info : Level::warn,
             s == IdentitySource::cri ? "pod identity from the container runtime (CRI)"
                                      : "pod identity from /proc/<pid>/cgroup: the container "
                                        "runtime cannot be reached",
             std::move(f));
}

void PodResolver::pass() {
    std::vector<PodNetns> live;
    if (from_cri(live)) {
        set_source(IdentitySource::cri, "");
    } else {
        from_cgroups(live);
        set_source(IdentitySource::cgroup, last_error());
    }
    dir_->publish(live);
    scan_cgroups();
    passes_.fetch_add(1, std::memory_order_relaxed);
}

void PodResolver::scan_cgroups() {
    if (!cgroup_root_checked_) { // once: a node does not switch cgroup versions while it runs
        cgroup_root_checked_ = true;
        cgroup_root_ = find_cgroup2_root(cfg_.host_root, cfg_.cgroup_root);
        dir_->set_cgroups_available(!cgroup_root_.empty());
        Log::msg(Level::info,
                 cgroup_root_.empty() ? "hostNetwork pods' sockets cannot be named: no cgroup v2 "
                                        "hierarchy (their lines say host_network, no pod)"
                                      : "hostNetwork pods' sockets named by their cgroup v2",
                 Fields{{"component", "k8s"},
                        {"cgroup_root", cgroup_root_},
                        {"configured", cfg_.cgroup_root}});
    }
    if (cgroup_root_.empty())
        return;
    const CgroupScan scan = scan_pod_cgroups(cgroup_root_);
    std::vector<PodCgroup> live;
    live.reserve(scan.cgroups.size());
    for (const auto& c : scan.cgroups) {
        PodIdentity id{"", "", c.pod_uid, {}};
        if (auto it = by_uid_.find(c.pod_uid); it != by_uid_.end())
            id = it->second;
        live.push_back({c.cgroup_id, std::move(id), c.container_id});
    }
    if (scan.truncated && !cgroup_scan_truncated_logged_) {
        cgroup_scan_truncated_logged_ = true;
        Log::msg(Level::warn,
                 "cgroup scan stopped at its directory limit; some pods' cgroups unread",
                 Fields{{"component", "k8s"}, {"cgroup_root", cgroup_root_}, {"dirs", scan.dirs}});
    }
    dir_->publish_cgroups(live);
}

bool PodResolver::from_cri(std::vector<PodNetns>& out) {
    auto pods = cri_->list_pods();
    if (!pods) {
        std::lock_guard lk(error_mu_);
        last_error_ = pods.error().message();
        return false;
    }
    const std::string proc = cfg_.host_root + "/proc/";
    for (const auto& p : *pods) {
        PodIdentity id{p.namespace_, p.name, p.uid, {}};
        for (const auto& k : cfg_.pod_labels)
            if (auto it = p.labels.find(k); it != p.labels.end())
                id.labels[k] = it->second;
        by_uid_[p.uid] = id; // hostNetwork pods too: their cgroups are named by uid
        if (!p.ready || p.host_network)
            continue;
        // The netns bind mount the runtime names, else the sandbox process's own link.
        std::string path = p.netns_path.empty() ? "" : cfg_.host_root + p.netns_path;
        uint64_t ino = netns_ino_of(path);
        if (ino == 0 && p.pid > 0) {
            path = proc + std::to_string(p.pid) + "/ns/net";
            ino = netns_ino_of(path);
        }
        if (ino == 0 || ino == cfg_.host_netns_ino)
            continue;
        out.push_back({ino, netns_id_of(path), std::move(id)});
    }
    if (by_uid_.size() > 4 * pods->size() + 1024) // bounded: forget pods no longer listed
        std::erase_if(by_uid_, [&](const auto& kv) {
            for (const auto& p : *pods)
                if (p.uid == kv.first)
                    return false;
            return true;
        });
    return true;
}

void PodResolver::from_cgroups(std::vector<PodNetns>& out) {
    const std::string proc = cfg_.host_root + "/proc";
    DIR* d = ::opendir(proc.c_str());
    if (!d)
        return;
    std::set<uint64_t> done;
    std::vector<std::pair<long, std::string>> pids;
    while (dirent* e = ::readdir(d)) {
        char* end = nullptr;
        long pid = std::strtol(e->d_name, &end, 10);
        if (pid > 0 && end && *end == '\0')
            pids.emplace_back(pid, e->d_name);
    }
    ::closedir(d);
    std::sort(pids.begin(), pids.end());
    for (const auto& [pid, name] : pids) {
        const std::string ns = proc + "/" + name + "/ns/net";
        uint64_t ino = netns_ino_of(ns);
        if (ino == 0 || ino == cfg_.host_netns_ino || done.count(ino))
            continue; // one pod process per namespace decides (all of a pod's share its cgroup)
        std::ifstream f(proc + "/" + name + "/cgroup");
        std::stringstream ss;
        ss << f.rdbuf();
        auto cg = parse_proc_cgroup(ss.str());
        // Not a pod's process (e.g. a debugging tool nsenter'ed into the pod's netns): it
        // must not hide the pod's own processes, which may come later in the walk.
        if (!cg)
            continue;
        done.insert(ino);
        PodIdentity id{"", "", cg->pod_uid, {}};
        if (auto it = by_uid_.find(cg->pod_uid); it != by_uid_.end())
            id = it->second;
        const int32_t nsid = netns_id_of(ns);
        Log::msg(Level::debug, "pod netns from cgroup",
                 Fields{{"component", "k8s"},
                        {"pid", pid},
                        {"netns", ino},
                        {"nsid", nsid},
                        {"pod_uid", cg->pod_uid},
                        {"namespace", id.namespace_},
                        {"pod", id.pod}});
        out.push_back({ino, nsid, std::move(id)});
    }
}

} // namespace tif

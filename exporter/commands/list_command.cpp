#include "commands/list_command.h"

#include <bpf/libbpf.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "config/k8s_options.h"
#include "k8s/pod_directory.h"
#include "k8s/pod_resolver.h"
#include "log/log.h"
#include "net/iface_label.h"
#include "net/iface_table.h"
#include "net/netlink_socket.h"
#include "net/tc_attach.h"
#include "net/tcx_link.h"

namespace tif {

namespace {

struct HookState {
    // Our program on the hook: the first of ours on its tcx chain, else what sits at our
    // clsact handle/priority (which may be foreign).
    std::optional<TcFilter> ours;
    std::string via;           // "tcx" or "clsact"
    long filters = -1;         // every clsact filter on the hook, -1 = could not tell
    std::vector<TcFilter> tcx; // the programs on its tcx chain, first to last
};

HookState hook_state(int ifindex, TcDir d) {
    HookState h;
    if (auto ids = tcx_query(ifindex, d))
        for (uint32_t id : *ids) {
            h.tcx.push_back(tc_program(id));
            if (!h.ours && h.tcx.back().ours) {
                h.ours = h.tcx.back();
                h.via = "tcx";
            }
        }
    if (auto n = tc_count_filters(ifindex, d))
        h.filters = long(*n);
    // The query makes libbpf complain where there is no clsact: ask only where filters are.
    if (!h.ours && h.filters > 0)
        if (auto q = tc_query(ifindex, d); q && *q) {
            h.ours = *q;
            h.via = "clsact";
        }
    return h;
}

nlohmann::ordered_json hook_json(const HookState& h) {
    nlohmann::ordered_json j;
    if (h.ours)
        j["attached"] = {{"prog_id", h.ours->prog_id},
                         {"prog_name", h.ours->prog_name},
                         {"ours", h.ours->ours},
                         {"via", h.via}};
    else
        j["attached"] = nullptr;
    j["filters"] = h.filters;
    auto tcx = nlohmann::ordered_json::array();
    for (const auto& p : h.tcx)
        tcx.push_back({{"prog_id", p.prog_id}, {"prog_name", p.prog_name}, {"ours", p.ours}});
    j["tcx"] = tcx;
    return j;
}

std::string hook_cell(const HookState& h) {
    std::string s = "-";
    if (h.ours)
        s = (h.ours->ours ? "" : "FOREIGN:") + h.ours->prog_name + "#" +
            std::to_string(h.ours->prog_id) + " " + h.via;
    std::vector<std::string> counts;
    if (!h.tcx.empty())
        counts.push_back(std::to_string(h.tcx.size()) + " tcx");
    if (h.filters > 0)
        counts.push_back(std::to_string(h.filters) + " filter" + (h.filters == 1 ? "" : "s"));
    for (size_t i = 0; i < counts.size(); ++i)
        s += (i == 0 ? " (" : ", ") + counts[i] + (i + 1 == counts.size() ? ")" : "");
    return s;
}

// Which pod each veth leads into: one pass of the daemon's own resolver (k8s/pod_resolver.h:
// the runtime over CRI, the cgroup fallback when it cannot be reached) on its own thread, run
// while the main thread queries the tc hooks. The pass is bounded by the CRI deadline (2 s a
// call); a runtime that is down or absent only leaves the pod fields empty.
class PodPass {
  public:
    explicit PodPass(const K8sOptions& o) : endpoint_(resolve_cri_endpoint(o)) {
        if (endpoint_.empty()) {
            source_ = "off";
            if (o.cri_endpoint == K8S_ENDPOINT_AUTO)
                note_ = "pod identity off: no container runtime socket found" +
                        (o.host_root.empty() ? std::string() : " under " + o.host_root);
            return;
        }
        // The resolver's log lines must not reach stdout (the table, the JSON) here; why the
        // runtime could not be asked comes from PodResolver::last_error().
        devnull_ = std::fopen("/dev/null", "we");
        Log::set_output(devnull_ ? devnull_ : stderr);
        Log::set_min_level(Level::warn);
        PodResolverConfig cfg; // the daemon's defaults, the CRI deadline (2 s) among them
        cfg.endpoint = endpoint_;
        cfg.host_root = o.host_root;
        cfg.host_netns_ino = own_netns_ino();
        cfg.cgroup_root = ""; // the sockets' cgroups (hostNetwork pods): not shown here
        dir_ = std::make_shared<PodDirectory>();
        resolver_ = std::make_unique<PodResolver>(std::move(cfg), dir_);
        resolver_->start();
    }
    ~PodPass() {
        finish();
        Log::set_output(stdout);
        if (devnull_)
            std::fclose(devnull_);
    }
    PodPass(const PodPass&) = delete;
    PodPass& operator=(const PodPass&) = delete;

    // Waits for the resolver's first pass and stops it.
    void finish() {
        if (!resolver_ || !source_.empty())
            return;
        while (resolver_->passes() == 0)
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
        resolver_->stop();
        if (resolver_->source() == IdentitySource::cri) {
            source_ = "cri";
            return;
        }
        const std::string reason = resolver_->last_error();
        source_ = "unavailable: " +
                  (reason.empty() ? "the container runtime at " + endpoint_ + " cannot be reached"
                                  : reason);
        note_ = "pod identity " + source_;
    }

    // "cri", "off" or "unavailable: <error>" (finish() first).
    const std::string& source() const { return source_; }
    // A line for stderr when pods cannot be named (and the user did not turn it off).
    const std::string& note() const { return note_; }

    // The pod whose network namespace holds this link's peer.
    std::optional<PodIdentity> of(const LinkMsg& l) const {
        if (!dir_ || !l.link_other_netns || l.link_netnsid < 0)
            return std::nullopt;
        return dir_->by_nsid(l.link_netnsid);
    }

  private:
    std::string endpoint_;
    std::string source_, note_;
    FILE* devnull_ = nullptr;
    std::shared_ptr<PodDirectory> dir_;
    std::unique_ptr<PodResolver> resolver_;
};

// The POD column: "namespace/pod", the uid alone where only the cgroup fallback knew it.
std::string pod_cell(const std::optional<PodIdentity>& p) {
    if (!p || (p->pod.empty() && p->uid.empty()))
        return "-";
    if (p->pod.empty())
        return "uid:" + p->uid;
    return p->namespace_ + "/" + p->pod;
}

} // namespace

int run_list_command(const std::vector<std::string>& args) {
    bool json = false;
    K8sOptions k8s;
    FlagMap flags;
    add_k8s_flags(flags, k8s);
    flags.erase("--k8s.relist-interval"); // one pass here
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--json") {
            json = true;
            continue;
        }
        if (a == "-h" || a == "--help") {
            std::puts(
                "usage: traceiface list [--json] [--k8s.cri-endpoint=EP] [--k8s.host-root=DIR]\n\n"
                "Interfaces of this network namespace and the traceiface tc programs attached\n"
                "to each (tcx links, or clsact filters at handle 0x74696600 priority 1),\n"
                "read from the kernel, and the Kubernetes pod (namespace/pod) a veth leads\n"
                "into, from the container runtime over CRI as the daemon names it.\n\n"
                "  --k8s.cri-endpoint=EP  CRI socket (unix:///PATH or /PATH); auto = the first\n"
                "                         containerd, k3s, CRI-O or cri-dockerd socket that\n"
                "                         exists; \"\" = no pod names (default auto)\n"
                "  --k8s.host-root=DIR    where the node's / is mounted (default \"\" = /)");
            return 0;
        }
        const auto eq = a.find('=');
        const std::string name = a.substr(0, eq);
        auto f = flags.find(name);
        if (f == flags.end()) {
            std::fprintf(stderr, "traceiface list: unknown argument \"%s\"\n", a.c_str());
            return 2;
        }
        std::string value;
        if (eq != std::string::npos) {
            value = a.substr(eq + 1);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            std::fprintf(stderr, "traceiface list: %s: missing value\n", name.c_str());
            return 2;
        }
        if (auto st = f->second(value); !st) {
            std::fprintf(stderr, "traceiface list: %s\n", st.error().message().c_str());
            return 2;
        }
    }
    // Started first: the runtime answers while the tc hooks are queried.
    PodPass pods(k8s);
    // A hook without clsact makes libbpf print the kernel's complaint; "nothing attached" is
    // an answer here, not an error.
    libbpf_set_print(nullptr);
    auto links = dump_links();
    if (!links) {
        std::fprintf(stderr, "traceiface list: %s\n", links.error().message().c_str());
        return 1;
    }
    std::sort(links->begin(), links->end(),
              [](const LinkMsg& a, const LinkMsg& b) { return a.ifindex < b.ifindex; });
    std::map<uint32_t, std::string> names;
    for (const auto& l : *links)
        names[l.ifindex] = l.name;
    const auto name_of = [&](uint32_t i) -> std::string {
        if (i == 0)
            return "";
        auto it = names.find(i);
        return it != names.end() ? it->second : "/ifindex-" + std::to_string(i);
    };

    struct Row {
        const LinkMsg* l;
        HookState in, eg;
    };
    std::vector<Row> rows;
    rows.reserve(links->size());
    for (const auto& l : *links)
        rows.push_back({&l, hook_state(int(l.ifindex), TcDir::ingress),
                        hook_state(int(l.ifindex), TcDir::egress)});
    pods.finish();

    if (json) {
        auto out = nlohmann::ordered_json::array();
        for (const auto& r : rows) {
            const LinkMsg& l = *r.l;
            const auto pod = pods.of(l);
            out.push_back({{"ifindex", l.ifindex},
                           {"iface", l.name},
                           {"kind", IfaceTable::kind_of(l)},
                           {"mtu", l.mtu},
                           {"operstate", operstate_name(l.operstate)},
                           {"master", name_of(l.master)},
                           {"link", l.link_other_netns ? "" : name_of(l.link)},
                           {"namespace", pod ? pod->namespace_ : ""},
                           {"pod", pod ? pod->pod : ""},
                           {"pod_uid", pod ? pod->uid : ""},
                           {"pod_source", pods.source()},
                           {"ingress", hook_json(r.in)},
                           {"egress", hook_json(r.eg)}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::vector<std::string> pod_cells;
    size_t pod_w = 3;
    for (const auto& r : rows) {
        pod_cells.push_back(pod_cell(pods.of(*r.l)));
        pod_w = std::max(pod_w, pod_cells.back().size());
    }
    if (!pods.note().empty())
        std::fprintf(stderr, "traceiface list: %s\n", pods.note().c_str());
    std::printf("%-8s %-16s %-10s %-6s %-15s %-16s %-*s %-34s %s\n", "IFINDEX", "IFACE", "KIND",
                "MTU", "OPERSTATE", "MASTER", int(pod_w), "POD", "INGRESS", "EGRESS");
    for (size_t i = 0; i < rows.size(); ++i) {
        const LinkMsg& l = *rows[i].l;
        const std::string master = name_of(l.master);
        std::printf("%-8u %-16s %-10s %-6u %-15s %-16s %-*s %-34s %s\n", l.ifindex, l.name.c_str(),
                    IfaceTable::kind_of(l).c_str(), l.mtu, operstate_name(l.operstate).c_str(),
                    master.empty() ? "-" : master.c_str(), int(pod_w), pod_cells[i].c_str(),
                    hook_cell(rows[i].in).c_str(), hook_cell(rows[i].eg).c_str());
    }
    return 0;
}

} // namespace tif

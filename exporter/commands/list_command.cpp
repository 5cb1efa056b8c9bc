#include "commands/list_command.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

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

} // namespace

int run_list_command(const std::vector<std::string>& args) {
    bool json = false;
    for (const auto& a : args) {
        if (a == "--json") {
            json = true;
        } else if (a == "-h" || a == "--help") {
            std::puts(
                "usage: traceiface list [--json]\n\nInterfaces of this network namespace "
                "and the traceiface tc programs attached\nto each (tcx links, or clsact filters "
                "at handle 0x74696600 priority 1),\nread from the kernel.");
            return 0;
        } else {
            std::fprintf(stderr, "traceiface list: unknown argument \"%s\"\n", a.c_str());
            return 2;
        }
    }
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

    auto out = nlohmann::ordered_json::array();
    if (!json)
        std::printf("%-8s %-16s %-10s %-6s %-15s %-16s %-34s %s\n", "IFINDEX", "IFACE", "KIND",
                    "MTU", "OPERSTATE", "MASTER", "INGRESS", "EGRESS");
    for (const auto& l : *links) {
        HookState in = hook_state(int(l.ifindex), TcDir::ingress);
        HookState eg = hook_state(int(l.ifindex), TcDir::egress);
        std::string kind = IfaceTable::kind_of(l), master = name_of(l.master);
        if (json) {
            out.push_back({{"ifindex", l.ifindex},
                           {"iface", l.name},
                           {"kind", kind},
                           {"mtu", l.mtu},
                           {"operstate", operstate_name(l.operstate)},
                           {"master", master},
                           {"link", l.link_other_netns ? "" : name_of(l.link)},
                           {"ingress", hook_json(in)},
                           {"egress", hook_json(eg)}});
            continue;
        }
        std::printf("%-8u %-16s %-10s %-6u %-15s %-16s %-34s %s\n", l.ifindex, l.name.c_str(),
                    kind.c_str(), l.mtu, operstate_name(l.operstate).c_str(),
                    master.empty() ? "-" : master.c_str(), hook_cell(in).c_str(),
                    hook_cell(eg).c_str());
    }
    if (json)
        std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

} // namespace tif

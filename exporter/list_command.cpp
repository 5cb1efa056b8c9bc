#include "list_command.h"

#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "iface_table.h"
#include "netlink_socket.h"
#include "tc_attach.h"

namespace tif {

namespace {

struct HookState {
    std::optional<TcFilter> ours; // what sits at our handle/priority
    long filters = -1;            // every filter on the hook, -1 = could not tell
};

HookState hook_state(int ifindex, TcDir d) {
    HookState h;
    if (auto q = tc_query(ifindex, d))
        h.ours = *q;
    if (auto n = tc_count_filters(ifindex, d))
        h.filters = long(*n);
    return h;
}

nlohmann::ordered_json hook_json(const HookState& h) {
    nlohmann::ordered_json j;
    if (h.ours)
        j["attached"] = {
            {"prog_id", h.ours->prog_id}, {"prog_name", h.ours->prog_name}, {"ours", h.ours->ours}};
    else
        j["attached"] = nullptr;
    j["filters"] = h.filters;
    return j;
}

std::string hook_cell(const HookState& h) {
    std::string s = "-";
    if (h.ours)
        s = (h.ours->ours ? "" : "FOREIGN:") + h.ours->prog_name + "#" +
            std::to_string(h.ours->prog_id);
    if (h.filters > 0)
        s += " (" + std::to_string(h.filters) + " filter" + (h.filters == 1 ? "" : "s") + ")";
    return s;
}

} // namespace

int run_list_command(const std::vector<std::string>& args) {
    bool json = false;
    for (const auto& a : args) {
        if (a == "--json") {
            json = true;
        } else if (a == "-h" || a == "--help") {
            std::puts("usage: traceiface list [--json]\n\nInterfaces of this network namespace "
                      "and the traceiface tc programs attached\nto each (handle 0x74696600, "
                      "priority 1), read from the kernel.");
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
        std::printf("%-8s %-16s %-10s %-6s %-15s %-16s %-28s %s\n", "IFINDEX", "IFACE", "KIND",
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
        std::printf("%-8u %-16s %-10s %-6u %-15s %-16s %-28s %s\n", l.ifindex, l.name.c_str(),
                    kind.c_str(), l.mtu, operstate_name(l.operstate).c_str(),
                    master.empty() ? "-" : master.c_str(), hook_cell(in).c_str(),
                    hook_cell(eg).c_str());
    }
    if (json)
        std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

} // namespace tif

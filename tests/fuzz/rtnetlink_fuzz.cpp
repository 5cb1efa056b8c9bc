// libFuzzer target for rtnetlink link messages (exporter/link_parser.cpp) and the interface
// table they update (iface_table.cpp): the kernel is outside input too. The input is one
// datagram; every RTM_NEWLINK / RTM_DELLINK in it is parsed and applied, then a dump ends.
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "net/iface_table.h"
#include "net/link_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static tif::IfaceTable table; // state carries over between inputs, as in the daemon
    const std::span<const std::byte> buf(reinterpret_cast<const std::byte*>(data), size);
    table.begin_dump();
    size_t walked = 0;
    (void)tif::for_each_nlmsg(buf, [&](const tif::NlMsgView& m) {
        walked += m.payload.size();
        if (walked > size)
            std::abort();
        // The type is the fuzzer's too: other types must be refused, not misread.
        auto l = tif::parse_link(m.type, m.payload);
        if (!l)
            return;
        if (m.type != RTM_NEWLINK && m.type != RTM_DELLINK)
            std::abort();
        if (l->name.find('\0') != std::string::npos || l->name.size() > m.payload.size() ||
            l->kind.size() > m.payload.size())
            std::abort();
        (void)tif::operstate_name(l->operstate);
        (void)tif::max_frame_len(l->type, l->mtu);
        for (const auto& c : table.apply(*l))
            if (c.what != tif::IfaceChange::What::removed && !table.find(c.now.ifindex))
                std::abort();
    });
    (void)table.end_dump();
    if (table.all().size() > 4096) // keep the fuzzer's memory bounded; the daemon has no cap
        table = tif::IfaceTable{};
    return 0;
}

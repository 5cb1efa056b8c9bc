// The host's interfaces as rtnetlink last described them, keyed by ifindex. Pure state: the
// netlink watcher feeds it messages, the packet manager reacts to the changes it reports.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "net/link_parser.h"

namespace tif {

struct IfaceChange {
    enum class What { added, changed, removed };
    What what;
    LinkMsg now;              // for `removed`: the last state we knew
    std::string old_name;     // set when a rename happened (changed)
    bool mtu_changed = false; // changed: MTU differs
};

class IfaceTable {
  public:
    // Applies one message. A NEWLINK for an ifindex we know is a change (rename, MTU, oper
    // state, master, ...); a DELLINK of an unknown ifindex yields nothing.
    std::vector<IfaceChange> apply(const LinkMsg& m);

    // A full dump starts: links the dump does not mention before end_dump() are gone (used
    // after the socket overflowed and events may have been lost).
    void begin_dump() { ++generation_; }
    std::vector<IfaceChange> end_dump();
    // Complete dumps so far: after the first, the table is the whole truth (see
    // PacketManager::adopt).
    uint64_t dumps_completed() const { return dumps_completed_; }

    const LinkMsg* find(uint32_t ifindex) const;
    const std::map<uint32_t, LinkMsg>& all() const { return links_; }

    // The `kind` label: IFLA_INFO_KIND, or "loopback"/"device" for links without one.
    static std::string kind_of(const LinkMsg& m);

  private:
    std::map<uint32_t, LinkMsg> links_;
    std::map<uint32_t, uint64_t> seen_; // generation of the last message about each link
    uint64_t generation_ = 0;
    uint64_t dumps_completed_ = 0;
};

} // namespace tif

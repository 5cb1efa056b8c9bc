// The rtnetlink link parser on messages built here byte by byte, as the kernel lays them out.
#include <doctest/doctest.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstring>
#include <string>
#include <vector>

#include "net/iface_table.h"
#include "net/link_parser.h"

using namespace tif;

namespace {

// Appends rtattrs and nested rtattrs to a netlink message under construction.
struct MsgBuilder {
    std::vector<std::byte> b;
    void put(const void* p, size_t n) {
        auto* c = static_cast<const std::byte*>(p);
        b.insert(b.end(), c, c + n);
        b.resize(NLMSG_ALIGN(b.size()));
    }
    size_t attr(uint16_t type, const void* p, size_t n) {
        size_t at = b.size();
        rtattr a{uint16_t(RTA_LENGTH(n)), type};
        b.insert(b.end(), reinterpret_cast<std::byte*>(&a), reinterpret_cast<std::byte*>(&a + 1));
        put(p, n);
        return at;
    }
    void str(uint16_t type, const std::string& s) { attr(type, s.c_str(), s.size() + 1); }
    void u32(uint16_t type, uint32_t v) { attr(type, &v, sizeof(v)); }
    void u8(uint16_t type, uint8_t v) { attr(type, &v, sizeof(v)); }
    size_t nest(uint16_t type) { return attr(type, nullptr, 0); }
    void end_nest(size_t at) {
        uint16_t len = uint16_t(b.size() - at);
        std::memcpy(b.data() + at, &len, sizeof(len));
    }
};

std::vector<std::byte> link_msg(uint16_t type, int ifindex, const std::string& name,
                                const std::string& kind, uint32_t master = 0) {
    MsgBuilder m;
    nlmsghdr h{};
    m.put(&h, sizeof(h));
    ifinfomsg ifi{};
    ifi.ifi_index = ifindex;
    ifi.ifi_type = ARPHRD_ETHER;
    m.put(&ifi, sizeof(ifi));
    m.str(IFLA_IFNAME, name);
    m.u32(IFLA_MTU, 1500);
    m.u8(IFLA_OPERSTATE, IF_OPER_UP);
    if (master)
        m.u32(IFLA_MASTER, master);
    m.u32(IFLA_LINK, 7);
    size_t li = m.nest(IFLA_LINKINFO);
    m.str(IFLA_INFO_KIND, kind);
    m.end_nest(li);
    auto* hp = reinterpret_cast<nlmsghdr*>(m.b.data());
    hp->nlmsg_len = uint32_t(m.b.size());
    hp->nlmsg_type = type;
    hp->nlmsg_seq = 42;
    return m.b;
}

LinkMsg parse_one(const std::vector<std::byte>& buf) {
    LinkMsg out;
    int n = 0;
    REQUIRE(for_each_nlmsg(buf, [&](const NlMsgView& v) {
        auto l = parse_link(v.type, v.payload);
        REQUIRE(l);
        out = *l;
        ++n;
    }));
    REQUIRE(n == 1);
    return out;
}

} // namespace

TEST_CASE("RTM_NEWLINK: name, MTU, oper state, master, link and kind") {
    LinkMsg l = parse_one(link_msg(RTM_NEWLINK, 12, "bond0slave", "veth", 9));
    CHECK_FALSE(l.deleted);
    CHECK(l.ifindex == 12);
    CHECK(l.name == "bond0slave");
    CHECK(l.mtu == 1500);
    CHECK(operstate_name(l.operstate) == "up");
    CHECK(l.master == 9);
    CHECK(l.link == 7);
    CHECK_FALSE(l.link_other_netns);
    CHECK(l.kind == "veth");
    CHECK(max_frame_len(l.type, l.mtu) == 1518);
}

TEST_CASE("a bridge port's AF_BRIDGE notification is told apart from the link's own") {
    auto buf = link_msg(RTM_NEWLINK, 12, "veth1", "veth", 9);
    CHECK_FALSE(parse_one(buf).bridge_port_msg);
    reinterpret_cast<ifinfomsg*>(buf.data() + NLMSG_HDRLEN)->ifi_family = AF_BRIDGE;
    CHECK(parse_one(buf).bridge_port_msg); // the watcher skips it: it lacks IFLA_LINK_NETNSID
}

TEST_CASE("several messages in one datagram; RTM_DELLINK") {
    auto buf = link_msg(RTM_NEWLINK, 3, "a", "bridge");
    auto del = link_msg(RTM_DELLINK, 4, "b", "vlan");
    buf.insert(buf.end(), del.begin(), del.end());
    std::vector<LinkMsg> got;
    REQUIRE(for_each_nlmsg(
        buf, [&](const NlMsgView& v) { got.push_back(*parse_link(v.type, v.payload)); }));
    REQUIRE(got.size() == 2);
    CHECK(got[1].deleted);
    CHECK(got[1].kind == "vlan");
}

TEST_CASE("truncated and lying input is refused, never read past") {
    auto buf = link_msg(RTM_NEWLINK, 3, "a", "veth");
    auto* h = reinterpret_cast<nlmsghdr*>(buf.data());
    h->nlmsg_len = uint32_t(buf.size() + 100);
    CHECK_FALSE(for_each_nlmsg(buf, [](const NlMsgView&) { FAIL("no message expected"); }));
    std::vector<std::byte> tiny(8);
    CHECK_FALSE(parse_link(RTM_NEWLINK, tiny));
    CHECK_FALSE(parse_link(RTM_NEWADDR, tiny));
    // An attribute claiming more than is there: the parser stops at it, keeping the header.
    auto ok = link_msg(RTM_NEWLINK, 5, "x", "veth");
    std::span<const std::byte> payload(ok.data() + NLMSG_HDRLEN, ok.size() - NLMSG_HDRLEN);
    auto cut = payload.subspan(0, NLMSG_ALIGN(sizeof(ifinfomsg)) + 5);
    auto l = parse_link(RTM_NEWLINK, cut);
    REQUIRE(l);
    CHECK(l->ifindex == 5);
    CHECK(l->name.empty());
}

TEST_CASE("interface table: add, rename, MTU, delete, dump sweep") {
    IfaceTable t;
    LinkMsg a;
    a.ifindex = 10;
    a.name = "veth0";
    a.mtu = 1500;
    auto c = t.apply(a);
    REQUIRE(c.size() == 1);
    CHECK(c[0].what == IfaceChange::What::added);
    a.name = "eth9";
    a.mtu = 9000;
    c = t.apply(a);
    REQUIRE(c.size() == 1);
    CHECK(c[0].what == IfaceChange::What::changed);
    CHECK(c[0].old_name == "veth0");
    CHECK(c[0].mtu_changed);
    CHECK(t.find(10)->name == "eth9");
    CHECK(IfaceTable::kind_of(a) == "device");

    LinkMsg b;
    b.ifindex = 11;
    b.name = "b";
    (void)t.apply(b);
    t.begin_dump(); // a dump that only mentions 11: 10 vanished while we were not listening
    (void)t.apply(b);
    c = t.end_dump();
    REQUIRE(c.size() == 1);
    CHECK(c[0].what == IfaceChange::What::removed);
    CHECK(c[0].now.ifindex == 10);
    CHECK(t.find(10) == nullptr);

    b.deleted = true;
    c = t.apply(b);
    REQUIRE(c.size() == 1);
    CHECK(c[0].what == IfaceChange::What::removed);
    CHECK(t.apply(b).empty()); // unknown now
}

#include <doctest/doctest.h>

#include <cstring>

#include "net/iface_label.h"

using namespace tif;

namespace {
tif_iface_ref ref(uint32_t ns, uint32_t idx, const char* name) {
    tif_iface_ref r{};
    r.netns_ino = ns;
    r.ifindex = idx;
    std::strncpy(r.name, name, sizeof(r.name));
    return r;
}
const IfNameLookup lookup = [](uint32_t idx) -> std::optional<std::string> {
    if (idx == 7)
        return "eth7";
    return std::nullopt;
};
constexpr uint32_t HOST = 4026531840u;
} // namespace

TEST_CASE("host interfaces are labelled by name") {
    CHECK(iface_label(ref(HOST, 3, "veth12"), HOST, lookup) == "veth12");
    CHECK(iface_label(ref(HOST, 7, ""), HOST, lookup) == "eth7");
    CHECK(iface_label(ref(HOST, 9, ""), HOST, lookup) == "/ifindex-9");
    CHECK(iface_label(ref(HOST, 0, ""), HOST, lookup) == "/unknown");
}

TEST_CASE("a device in another namespace can never pass for a host interface") {
    // Same ifindex and name as a host device, other namespace: a '/' marks it.
    std::string l = iface_label(ref(4026532999u, 3, "eth0"), HOST, lookup);
    CHECK(l == "netns-4026532999/eth0");
    CHECK(l.find('/') != std::string::npos);
    // The host lookup must not be consulted for a foreign ifindex.
    CHECK(iface_label(ref(4026532999u, 7, ""), HOST, lookup) == "netns-4026532999/ifindex-7");
    CHECK(iface_label(ref(4026532999u, 0, ""), HOST, lookup) == "netns-4026532999/unknown");
}

TEST_CASE("the overflow entry has its own label") {
    CHECK(iface_label(ref(0, 0, ""), HOST, lookup) == "/overflow");
}

TEST_CASE("names are read within the 16-byte field even without a NUL") {
    tif_iface_ref r{};
    std::memset(r.name, 'x', sizeof(r.name));
    CHECK(ref_name(r) == std::string(16, 'x'));
}

TEST_CASE("our own namespace has an inode") {
    CHECK(own_netns_ino() != 0);
}

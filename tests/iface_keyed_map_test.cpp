// Root-only: the interface lifecycle against a real per-CPU hash (iface_lifecycle.h): keys of
// a vanished interface stay for the grace, then are deleted; counts of a deleted key whose
// label another key still renders are carried (the sum never goes backwards); a map near
// capacity evicts dead keys early, oldest-dead first; the overflow entry always stays.
#define DOCTEST_CONFIG_IMPLEMENT
#include <bpf/bpf.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "bpf/bpf_maps.h"
#include "net/iface_lifecycle.h"
#include "root_test_main.h"

namespace {

using tif::IfaceKeyedMap;
using tif::IfaceLiveness;

constexpr uint32_t kHost = 4026531840u;
constexpr int64_t kSec = 1'000'000'000;

struct Val {
    uint64_t a, b;
};

tif_iface_ref ref(uint32_t netns, uint32_t ifindex, const char* name) {
    tif_iface_ref r{};
    r.netns_ino = netns;
    r.ifindex = ifindex;
    std::strncpy(r.name, name, sizeof(r.name));
    return r;
}

struct Map {
    int fd;
    explicit Map(uint32_t max) {
        fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "tif_test", sizeof(tif_iface_ref),
                            sizeof(Val), max, nullptr);
        REQUIRE(fd >= 0);
    }
    ~Map() { close(fd); }
    void put(const tif_iface_ref& k, uint64_t a) {
        std::vector<Val> v(size_t(tif::possible_cpus()), Val{0, 0});
        v[0] = Val{a, 1};
        REQUIRE(bpf_map_update_elem(fd, &k, v.data(), BPF_ANY) == 0);
    }
    bool has(const tif_iface_ref& k) const {
        std::vector<Val> v(size_t(tif::possible_cpus()));
        return bpf_map_lookup_elem(fd, &k, v.data()) == 0;
    }
};

// The collector's view: sums by label of the map's keys and the carried counts.
std::map<std::string, uint64_t> by_label(const Map& m, const IfaceKeyedMap& km) {
    std::map<std::string, uint64_t> out;
    auto names = [](uint32_t) -> std::optional<std::string> { return std::nullopt; };
    auto st = tif::for_each_percpu_hash<tif_iface_ref, Val>(
        m.fd, [&](const tif_iface_ref& k, const Val& v) {
            out[tif::iface_label(k, kHost, names)] += v.a;
        });
    REQUIRE(st);
    for (const auto& c : km.carried()) {
        tif_iface_ref k{};
        std::memcpy(&k, c.key.data(), sizeof(k));
        out[tif::iface_label(k, kHost, names)] += c.value[0];
    }
    return out;
}

IfaceKeyedMap keyed(const Map& m, uint32_t max) {
    return IfaceKeyedMap("test", m.fd, sizeof(tif_iface_ref), 2, max, kHost,
                         [](uint32_t) -> std::optional<std::string> { return std::nullopt; });
}

} // namespace

TEST_CASE("a vanished interface's key stays for the grace, then is deleted") {
    Map m(64);
    auto km = keyed(m, 64);
    const auto eth0 = ref(kHost, 2, "eth0"), veth = ref(kHost, 7, "veth1"),
               ns = ref(4026532000u, 3, "eth0"), over = ref(0, 0, "");
    m.put(eth0, 10);
    m.put(veth, 20);
    m.put(ns, 30);
    m.put(over, 0);
    IfaceLiveness live(kHost);
    live.set({{2, "eth0"}, {7, "veth1"}}, {kHost, 4026532000u});
    std::set<std::string> labels;
    km.sweep(live, 0, 5 * kSec, labels);
    CHECK(labels.count("veth1") == 1);
    live.set({{2, "eth0"}}, {kHost}); // veth1 and the namespace are gone
    labels.clear();
    auto st = km.sweep(live, 1 * kSec, 5 * kSec, labels);
    CHECK(st.deleted_grace == 0);
    CHECK(m.has(veth));
    CHECK(m.has(ns));
    labels.clear();
    st = km.sweep(live, 6 * kSec, 5 * kSec, labels); // dead since 1 s: grace over at 6 s
    CHECK(st.deleted_grace == 2);
    CHECK(!m.has(veth));
    CHECK(!m.has(ns));
    CHECK(m.has(eth0));
    CHECK(m.has(over));
    CHECK(labels.count("veth1") == 0);
    CHECK(labels.count("eth0") == 1);
    CHECK(km.entries() == 2);
    // Their series ended: their counts are retired (for totals over every interface).
    CHECK(km.retired() == std::vector<uint64_t>{20 + 30, 1 + 1});
}

TEST_CASE("an interface back under its name within the grace continues; no series goes back") {
    Map m(64);
    auto km = keyed(m, 64);
    const auto old_key = ref(kHost, 7, "veth1"), new_key = ref(kHost, 9, "veth1");
    m.put(old_key, 100);
    IfaceLiveness live(kHost);
    live.set({}, {kHost}); // veth1 (7) gone
    std::set<std::string> labels;
    km.sweep(live, 0, 5 * kSec, labels);
    live.set({{9, "veth1"}}, {kHost}); // a new veth1 (9) within the grace
    m.put(new_key, 5);
    CHECK(by_label(m, km)["veth1"] == 105);
    km.sweep(live, 6 * kSec, 5 * kSec, labels);
    CHECK(!m.has(old_key));
    CHECK(by_label(m, km)["veth1"] == 105); // carried on the new key
    m.put(new_key, 7);
    CHECK(by_label(m, km)["veth1"] == 107);
    // The new one vanishes too: after its grace the series ends, carry and all.
    live.set({}, {kHost});
    km.sweep(live, 7 * kSec, 5 * kSec, labels);
    km.sweep(live, 12 * kSec, 5 * kSec, labels);
    CHECK(!m.has(new_key));
    CHECK(by_label(m, km).count("veth1") == 0);
    CHECK(km.carried().empty());
    // Carried 105 plus the new key's own 7, and each key's second field (1 each).
    CHECK(km.retired() == std::vector<uint64_t>{107, 2});
}

TEST_CASE("near capacity dead keys go early, oldest-dead first; live keys stay") {
    constexpr uint32_t max = 16; // evicts from 12 (3/4) down to 8 (1/2)
    Map m(max);
    auto km = keyed(m, max);
    IfaceLiveness live(kHost);
    std::map<uint32_t, std::string> host;
    for (uint32_t i = 1; i <= 11; ++i) {
        host[i] = "if" + std::to_string(i);
        m.put(ref(kHost, i, host[i].c_str()), i);
    }
    std::set<std::string> labels;
    int64_t now = 0;
    // 5..11 vanish one a second: 11 entries, under 3/4, so they wait for the grace.
    for (uint32_t i = 5; i <= 11; ++i) {
        host.erase(i);
        live.set(host, {kHost});
        auto st = km.sweep(live, now, 3600 * kSec, labels);
        CHECK(st.deleted_capacity == 0);
        now += kSec;
    }
    // Two new interfaces: 13 entries, over 3/4.
    for (uint32_t i = 20; i <= 21; ++i) {
        host[i] = "if" + std::to_string(i);
        m.put(ref(kHost, i, host[i].c_str()), 1);
    }
    live.set(host, {kHost});
    auto st = km.sweep(live, now, 3600 * kSec, labels);
    CHECK(st.deleted_capacity == 5);
    CHECK(st.entries == 8);
    for (uint32_t i = 5; i <= 9; ++i) // the oldest dead
        CHECK(!m.has(ref(kHost, i, ("if" + std::to_string(i)).c_str())));
    for (uint32_t i = 10; i <= 11; ++i)
        CHECK(m.has(ref(kHost, i, ("if" + std::to_string(i)).c_str())));
    for (uint32_t i : {1u, 2u, 3u, 4u, 20u, 21u})
        CHECK(m.has(ref(kHost, i, host[i].c_str())));
    CHECK(km.deleted(true) == 5);
}

TEST_CASE("a key that still counts is in use, whatever the liveness check says") {
    Map m(64);
    auto km = keyed(m, 64);
    const auto ns = ref(4026532999u, 3, "eth0"); // a namespace the daemon cannot see
    m.put(ns, 1);
    IfaceLiveness live(kHost);
    live.set({}, {kHost});
    std::set<std::string> labels;
    km.sweep(live, 0, 5 * kSec, labels);
    m.put(ns, 2); // counted again: the grace starts over
    km.sweep(live, 4 * kSec, 5 * kSec, labels);
    km.sweep(live, 6 * kSec, 5 * kSec, labels);
    CHECK(m.has(ns));
    km.sweep(live, 9 * kSec, 5 * kSec, labels); // idle since 4 s
    CHECK(!m.has(ns));
}

TEST_CASE("carried and retired counts outlive the process, in the carry map pinned beside") {
    Map m(64);
    const int carry = bpf_map_create(BPF_MAP_TYPE_HASH, "tif_carry", sizeof(tif_iface_ref),
                                     sizeof(Val), 65, nullptr);
    REQUIRE(carry >= 0);
    auto with_store = [&] {
        return std::make_unique<IfaceKeyedMap>(
            "test", m.fd, sizeof(tif_iface_ref), 2, 64, kHost,
            [](uint32_t) -> std::optional<std::string> { return std::nullopt; }, carry);
    };
    const auto old_key = ref(kHost, 7, "veth1"), new_key = ref(kHost, 9, "veth1"),
               gone = ref(kHost, 8, "veth2");
    m.put(old_key, 100);
    m.put(gone, 40);
    IfaceLiveness live(kHost);
    live.set({}, {kHost});
    std::set<std::string> labels;
    {
        auto km = with_store();
        km->sweep(live, 0, 5 * kSec, labels);
        live.set({{9, "veth1"}}, {kHost});
        m.put(new_key, 5);
        km->sweep(live, 6 * kSec, 5 * kSec, labels); // old veth1 carried, veth2 retired
        CHECK(by_label(m, *km)["veth1"] == 105);
        CHECK(km->retired() == std::vector<uint64_t>{40, 1});
    } // the process ends; the kernel maps stay (pinned, in a real restart)
    auto km = with_store();
    CHECK(by_label(m, *km)["veth1"] == 105);
    CHECK(km->retired() == std::vector<uint64_t>{40, 1});
    // And the successor keeps the store in step: the carry ends with veth1's last key.
    live.set({}, {kHost});
    km->sweep(live, 7 * kSec, 5 * kSec, labels);
    km->sweep(live, 12 * kSec, 5 * kSec, labels);
    CHECK(km->carried().empty());
    CHECK(km->retired() == std::vector<uint64_t>{40 + 105, 1 + 2});
    auto again = with_store();
    CHECK(again->carried().empty());
    CHECK(again->retired() == std::vector<uint64_t>{145, 3});
    close(carry);
}

TEST_CASE("the sweep interval: a quarter of the grace, 1 s to 30 s") {
    CHECK(tif::IfaceLifecycle::interval_ns(5 * kSec) == 1'250'000'000);
    CHECK(tif::IfaceLifecycle::interval_ns(1 * kSec) == uint64_t(kSec));
    CHECK(tif::IfaceLifecycle::interval_ns(300 * kSec) == uint64_t(30 * kSec));
}

int main(int argc, char** argv) {
    return run_root_tests(argc, argv);
}

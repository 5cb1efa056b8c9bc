// Root-only: the tc programs find an interface's counters through the direct-mapped slot table
// (position ifindex mod TIF_SLOT_POSITIONS) or, when another interface holds that position,
// through the hash; both paths count into the right slot. The real programs run on a real
// frame with BPF_PROG_TEST_RUN, which hands them the skb on loopback (ifindex 1).
#define DOCTEST_CONFIG_IMPLEMENT
#include <bpf/bpf.h>
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "bpf/pin_store.h"
#include "packets/tc_stats_probe.h"
#include "root_test_main.h"

namespace {

constexpr uint32_t kLo = 1;                           // loopback, where test runs happen
constexpr uint32_t kRival = kLo + TIF_SLOT_POSITIONS; // same position as loopback
constexpr uint32_t kFrame = 64;

// Runs the ingress program `runs` times on a 64-byte frame.
void run_ingress(const tif::TcStatsProbe& p, uint32_t runs) {
    std::vector<unsigned char> frame(kFrame, 0);
    frame[12] = 0x08; // IPv4
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_size_in = kFrame,
                .repeat = static_cast<int>(runs));
    REQUIRE(bpf_prog_test_run_opts(p.prog_fd(tif::TcDir::ingress), &opts) == 0);
}

uint64_t packets(const tif::TcStatsProbe& p, uint32_t slot) {
    auto c = p.read(slot, tif::TcDir::ingress);
    REQUIRE(c);
    return c->packets;
}

std::vector<std::pair<uint32_t, uint32_t>> bound(const tif::TcStatsProbe& p) {
    auto b = p.bindings();
    REQUIRE(b);
    std::vector<std::pair<uint32_t, uint32_t>> out;
    for (const auto& [ifindex, s] : *b)
        out.emplace_back(ifindex, s.slot);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("an interface is counted through the direct table or, when its position is taken, "
          "through the hash") {
    auto pins = tif::PinStore::disabled();
    auto loaded = tif::TcStatsProbe::load(64, 8, *pins);
    REQUIRE(loaded);
    auto& p = **loaded;
    for (uint32_t s = 0; s < 8; ++s)
        REQUIRE(p.zero(s));

    // Another interface holds loopback's position: loopback goes to the hash, with a max_len
    // below the frame so the oversize count shows its own entry was read.
    REQUIRE(p.bind(kRival, 3, 1514, 14));
    REQUIRE(p.bind(kLo, 2, kFrame - 4, 14));
    run_ingress(p, 1000);
    CHECK(packets(p, 2) == 1000);
    CHECK(packets(p, 3) == 0);
    auto c = p.read(2, tif::TcDir::ingress);
    REQUIRE(c);
    CHECK(c->bytes == 1000 * kFrame);
    CHECK(c->oversize == 1000);
    CHECK(c->size_hist[0] == 1000);
    CHECK(bound(p) == std::vector<std::pair<uint32_t, uint32_t>>{{kLo, 2}, {kRival, 3}});

    // The rival goes; binding loopback again moves it into the direct table (and out of the
    // hash: bindings() lists it once).
    REQUIRE(p.unbind(kRival));
    REQUIRE(p.bind(kLo, 2, 1514, 14));
    run_ingress(p, 500);
    CHECK(packets(p, 2) == 1500);
    CHECK(packets(p, 3) == 0);
    CHECK(bound(p) == std::vector<std::pair<uint32_t, uint32_t>>{{kLo, 2}});

    // A rival bound now finds the position taken and lands in the hash, leaving loopback alone.
    REQUIRE(p.bind(kRival, 3, 1514, 14));
    run_ingress(p, 10);
    CHECK(packets(p, 2) == 1510);
    CHECK(packets(p, 3) == 0);

    // Interfaces of any ifindex, the high ones of a node that has created many devices included.
    REQUIRE(p.bind(70000, 5, 1514, 14));
    CHECK(bound(p) ==
          std::vector<std::pair<uint32_t, uint32_t>>{{kLo, 2}, {kRival, 3}, {70000, 5}});

    // Unbound: no longer counted.
    REQUIRE(p.unbind(kLo));
    run_ingress(p, 10);
    CHECK(packets(p, 2) == 1510);
    CHECK(bound(p) == std::vector<std::pair<uint32_t, uint32_t>>{{kRival, 3}, {70000, 5}});
}

int main(int argc, char** argv) {
    return run_root_tests(argc, argv);
}

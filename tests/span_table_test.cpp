// Root-only: the span table's gate (span_binding.h) against the real maps. The probes skip the
// table while entry 0 of span_in_use is zero, so it must be open whenever a binding can be
// found and may be closed only once the table is empty. The kernel's own delete at TCP_CLOSE
// is the same map delete a probe makes, done here from user space on the shared fd.
#define DOCTEST_CONFIG_IMPLEMENT
#include <bpf/bpf.h>
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "root_test_main.h"
#include "span/span_table.h"

namespace {

uint32_t gate(const tif::SpanTable& t) {
    const uint32_t key = 0;
    uint32_t v = 0xdead;
    REQUIRE(bpf_map_lookup_elem(t.fds().in_use, &key, &v) == 0);
    return v;
}

tif::SpanFrame frame(uint8_t seed) {
    tif::SpanFrame f;
    f.trace_id.fill(seed);
    f.span_id.fill(uint8_t(seed + 1));
    return f;
}

constexpr uint64_t kHour = 3600ull * 1'000'000'000;

} // namespace

TEST_CASE("the gate is open exactly while the table may hold a binding") {
    auto created = tif::SpanTable::create(64);
    REQUIRE(created);
    tif::SpanTable t = std::move(*created);
    CHECK(gate(t) == 0); // nothing bound yet: the probes look nothing up

    REQUIRE(t.bind(11, frame(1), kHour));
    CHECK(gate(t) == 1);
    REQUIRE(t.bind(12, frame(2), kHour));
    auto live = t.sweep();
    REQUIRE(live);
    CHECK(*live == 2);
    CHECK(gate(t) == 1); // live bindings keep it open

    REQUIRE(t.unbind(11));
    uint64_t k12 = 12;
    REQUIRE(bpf_map_delete_elem(t.fds().bindings, &k12) == 0); // as the probe at TCP_CLOSE
    live = t.sweep();
    REQUIRE(live);
    CHECK(*live == 0);
    CHECK(gate(t) == 0); // empty: closed

    // It opens again for the next binding, before the binding is there to be found.
    REQUIRE(t.bind(13, frame(3), kHour));
    CHECK(gate(t) == 1);
    REQUIRE(t.unbind(13));
    REQUIRE(t.sweep());
    CHECK(gate(t) == 0);
}

TEST_CASE("expired bindings are swept and then close the gate") {
    auto created = tif::SpanTable::create(64);
    REQUIRE(created);
    tif::SpanTable t = std::move(*created);
    REQUIRE(t.bind(21, frame(4), 1'000'000)); // 1 ms
    REQUIRE(t.bind(22, frame(5), kHour));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    auto live = t.sweep();
    REQUIRE(live);
    CHECK(*live == 1);
    CHECK(gate(t) == 1); // 22 still lives
    uint64_t k21 = 21;
    tif_span_binding b{};
    CHECK(bpf_map_lookup_elem(t.fds().bindings, &k21, &b) != 0); // 21 was deleted

    REQUIRE(t.unbind(22));
    REQUIRE(t.bind(23, frame(6), 1'000'000));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    live = t.sweep();
    REQUIRE(live);
    CHECK(*live == 0);
    CHECK(gate(t) == 0); // the last one expired: nothing to find, gate closed
}

int main(int argc, char** argv) {
    return run_root_tests(argc, argv);
}

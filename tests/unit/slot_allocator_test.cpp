#include <doctest/doctest.h>

#include <cmath>

#include "net/slot_allocator.h"
#include "packets/packet_collector.h"

using namespace tif;
using namespace std::chrono_literals;

TEST_CASE("slots: dense, kept through the grace period, then reused") {
    SlotAllocator s(2, 2s);
    auto t0 = SlotAllocator::Clock::time_point{} + 100s;
    CHECK(s.acquire(t0) == 0u);
    CHECK(s.acquire(t0) == 1u);
    s.release(0, t0);
    CHECK(s.visible(0, t0 + 1s));
    CHECK_FALSE(s.visible(0, t0 + 2s));
    // Both taken or in grace: the one released longest ago is cut short rather than refused.
    s.release(1, t0 + 1s);
    CHECK(s.acquire(t0 + 1500ms) == 0u);
    CHECK(s.active(0));
    // Past its grace, a released slot is free again.
    CHECK(s.acquire(t0 + 3s) == 1u);
    CHECK_FALSE(s.acquire(t0 + 3s));
    s.drop(1);
    CHECK_FALSE(s.visible(1, t0 + 3s));
}

TEST_CASE("slots: a predecessor's slot is reserved as is, the rest stay dense") {
    SlotAllocator s(3, 2s);
    auto t0 = SlotAllocator::Clock::time_point{} + 100s;
    CHECK(s.reserve(1));
    CHECK_FALSE(s.reserve(1)); // already taken
    CHECK_FALSE(s.reserve(3)); // out of range
    CHECK(s.active(1));
    CHECK(s.acquire(t0) == 0u);
    CHECK(s.acquire(t0) == 2u);
    s.drop(1); // the adopted interface did not come back
    CHECK(s.acquire(t0) == 1u);
}

TEST_CASE("packet size histogram: cumulative log2 buckets from 64 B, +Inf last") {
    tif_tc_counts c{};
    c.size_hist[0] = 3;                    // <= 64
    c.size_hist[5] = 2;                    // <= 2048
    c.size_hist[TIF_SIZE_BUCKETS - 1] = 1; // > 64 KiB
    c.bytes = 12345;
    auto h = size_histogram(c);
    REQUIRE(h.bucket.size() == TIF_SIZE_BUCKETS);
    CHECK(h.bucket[0].upper_bound == 64);
    CHECK(h.bucket[5].upper_bound == 2048);
    CHECK(h.bucket[5].cumulative_count == 5);
    CHECK(h.bucket[TIF_SIZE_BUCKETS - 2].upper_bound == 65536);
    CHECK(std::isinf(h.bucket.back().upper_bound));
    CHECK(h.sample_count == 6);
    CHECK(h.sample_sum == 12345);
}

#include <doctest/doctest.h>

#include <ctime>

#include "log/clock.h"

using namespace tif;

TEST_CASE("RFC 3339 with nanoseconds, UTC") {
    CHECK(format_rfc3339_ns(0) == "1970-01-01T00:00:00.000000000Z");
    CHECK(format_rfc3339_ns(1'700'000'000'123'456'789) == "2023-11-14T22:13:20.123456789Z");
    CHECK(format_rfc3339_ns(1'700'000'000'000'000'001) == "2023-11-14T22:13:20.000000001Z");
    CHECK(format_rfc3339_ns(-1) == "1969-12-31T23:59:59.999999999Z");
}

TEST_CASE("boot-time stamps map to the wall clock") {
    timespec b{}, r{};
    clock_gettime(CLOCK_BOOTTIME, &b);
    clock_gettime(CLOCK_REALTIME, &r);
    int64_t boot = int64_t(b.tv_sec) * 1'000'000'000 + b.tv_nsec;
    int64_t real = int64_t(r.tv_sec) * 1'000'000'000 + r.tv_nsec;
    int64_t mapped = boot + boottime_to_realtime_offset_ns();
    // The two reads above are microseconds apart; a wrong clock would be off by the uptime.
    CHECK(mapped <= real + 1'000'000);
    CHECK(mapped >= real - 50'000'000);
}

TEST_CASE("the kernel tick is a HZ the kernel can have, and the coarse clock steps by it") {
    const uint64_t tick = kernel_tick_ns();
    REQUIRE(tick > 0);
    const uint64_t hz = (1'000'000'000 + tick / 2) / tick;
    INFO("tick " << tick << " ns, HZ " << hz);
    CHECK((hz == 100 || hz == 250 || hz == 300 || hz == 1000));
    // The coarse clock is the time of the last tick: it never moves by less than one.
    auto coarse = [] {
        timespec ts{};
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
        return uint64_t(ts.tv_sec) * 1'000'000'000 + uint64_t(ts.tv_nsec);
    };
    uint64_t prev = coarse(), steps = 0, smallest = UINT64_MAX;
    timespec start{}, now{};
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        const uint64_t c = coarse();
        if (c != prev) {
            smallest = std::min(smallest, c - prev);
            ++steps;
            prev = c;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 1 && steps < 20);
    REQUIRE(steps > 0);
    CHECK(smallest * 10 >= tick * 9); // NTP may slew a step by up to 500 ppm, not 10 %
}

TEST_CASE("an interval in ticks: nearest, at least one, 0 stays 0") {
    CHECK(ns_to_ticks(0, 4'000'000) == 0);
    CHECK(ns_to_ticks(1'000'000'000, 4'000'000) == 250); // 1 s at HZ=250
    CHECK(ns_to_ticks(1'000'000'000, 1'000'000) == 1000);
    CHECK(ns_to_ticks(100'000'000, 3'333'333) == 30); // HZ=300
    CHECK(ns_to_ticks(5'000'000, 4'000'000) == 1);    // 1.25 ticks
    CHECK(ns_to_ticks(6'000'000, 4'000'000) == 2);    // 1.5 ticks rounds up
    CHECK(ns_to_ticks(1, 4'000'000) == 1);            // never 0 for a non-zero interval
    CHECK(ns_to_ticks(1'000'000'000, 0) == 1000);     // unknown tick: 1 ms
    CHECK(ns_to_ticks(UINT64_MAX, 1) == UINT32_MAX);
}

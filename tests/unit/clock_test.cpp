#include <doctest/doctest.h>

#include <ctime>

#include "clock.h"

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

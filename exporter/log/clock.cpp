#include "log/clock.h"

#include <cstdint>
#include <cstdio>
#include <ctime>

namespace tif {

namespace {
int64_t clock_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
} // namespace

int64_t boottime_to_realtime_offset_ns() {
    // Bracket the realtime read with two boottime reads so the offset error is half the gap.
    int64_t b1 = clock_ns(CLOCK_BOOTTIME);
    int64_t r = clock_ns(CLOCK_REALTIME);
    int64_t b2 = clock_ns(CLOCK_BOOTTIME);
    return r - (b1 + (b2 - b1) / 2);
}

int64_t parse_rfc3339_ns(const std::string& s) {
    std::tm tm{};
    long ns = 0;
    int n = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%9ldZ%n", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ns, &n) != 7 ||
        size_t(n) != s.size())
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return int64_t(timegm(&tm)) * 1'000'000'000 + ns;
}

int64_t realtime_now_ns() {
    return clock_ns(CLOCK_REALTIME);
}

uint64_t kernel_tick_ns() {
    timespec res{};
    if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) != 0)
        return 0;
    return uint64_t(res.tv_sec) * 1'000'000'000 + uint64_t(res.tv_nsec);
}

uint32_t ns_to_ticks(uint64_t interval_ns, uint64_t tick_ns) {
    if (interval_ns == 0)
        return 0;
    if (tick_ns == 0)
        tick_ns = 1'000'000;
    const uint64_t ticks = interval_ns / tick_ns + (interval_ns % tick_ns >= (tick_ns + 1) / 2);
    if (ticks == 0)
        return 1;
    return ticks > UINT32_MAX ? UINT32_MAX : uint32_t(ticks);
}

std::string format_rfc3339_ns(int64_t ns) {
    int64_t sec = ns / 1'000'000'000;
    int64_t frac = ns % 1'000'000'000;
    if (frac < 0) { // before 1970: keep the fraction positive
        frac += 1'000'000'000;
        sec -= 1;
    }
    time_t t = time_t(sec);
    tm utc{};
    gmtime_r(&t, &utc);
    char buf[48];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(buf + n, sizeof(buf) - n, ".%09lldZ", static_cast<long long>(frac));
    return buf;
}

} // namespace tif

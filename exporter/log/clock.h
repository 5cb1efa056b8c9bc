// Kernel timestamps (CLOCK_BOOTTIME, what bpf_ktime_get_boot_ns returns) to wall-clock time,
// RFC 3339 formatting with nanoseconds for log lines, and the kernel tick.
#pragma once

#include <cstdint>
#include <string>

namespace tif {

// Nanoseconds to add to a CLOCK_BOOTTIME stamp to get CLOCK_REALTIME. Read it again for each
// batch of events: it moves when the wall clock is stepped.
int64_t boottime_to_realtime_offset_ns();

// 2026-11-24T16:04:05.123456789Z (UTC, always 9 fractional digits).
std::string format_rfc3339_ns(int64_t realtime_ns);

// The reverse, for that exact shape (a line's "ts"): ns since the epoch; 0 for anything else.
int64_t parse_rfc3339_ns(const std::string& s);

// Current CLOCK_REALTIME in ns.
int64_t realtime_now_ns();

// The kernel's tick (one jiffy) in ns: the resolution of the coarse clocks, which the kernel
// reports as TICK_NSEC. 0 when the kernel does not say.
uint64_t kernel_tick_ns();

// `interval_ns` in whole ticks, rounded to the nearest, at least 1 when the interval is not 0
// (0 stays 0); saturates at UINT32_MAX. A tick of 0 counts as 1 ms (HZ=1000).
uint32_t ns_to_ticks(uint64_t interval_ns, uint64_t tick_ns);

} // namespace tif

// Kernel timestamps (CLOCK_BOOTTIME, what bpf_ktime_get_boot_ns returns) to wall-clock time,
// and RFC 3339 formatting with nanoseconds for log lines.
#pragma once

#include <cstdint>
#include <string>

namespace tif {

// Nanoseconds to add to a CLOCK_BOOTTIME stamp to get CLOCK_REALTIME. Read it again for each
// batch of events: it moves when the wall clock is stepped.
int64_t boottime_to_realtime_offset_ns();

// 2026-11-24T16:04:05.123456789Z (UTC, always 9 fractional digits).
std::string format_rfc3339_ns(int64_t realtime_ns);

// Current CLOCK_REALTIME in ns.
int64_t realtime_now_ns();

} // namespace tif

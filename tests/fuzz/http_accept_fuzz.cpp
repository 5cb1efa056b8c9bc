// libFuzzer target for the scraper's Accept header (accepts_openmetrics in
// http/openmetrics.cpp), the only request text the exporter parses itself; cpp-httplib parses
// the rest. Any bytes must give an answer, and entries with q=0 (RFC 9110: "not acceptable")
// must never change it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "openmetrics.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string accept(reinterpret_cast<const char*>(data), size);
    const bool om = tif::accepts_openmetrics(accept);
    if (tif::accepts_openmetrics(accept + ",application/openmetrics-text;q=0") != om)
        std::abort();
    if (tif::accepts_openmetrics("text/plain;q=0," + accept) != om)
        std::abort();
    return 0;
}

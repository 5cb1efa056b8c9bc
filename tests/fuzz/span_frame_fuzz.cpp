// libFuzzer target for the span-context frame decoder (exporter/span_frame.cpp). The decoder
// must never read out of bounds, and what it accepts must be self-consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "span/span_frame.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    tif::SpanFrame f;
    tif::SpanDecode r = tif::decode_span_frame({data, size}, f);
    if (size > tif::SPAN_FRAME_MAX_BYTES && r != tif::SpanDecode::oversize)
        std::abort();
    if (r == tif::SpanDecode::ok) {
        if (f.name_len > TIF_SPAN_NAME_LEN)
            std::abort();
        for (char c : f.name_view())
            if (c < 0x20 || c > 0x7e)
                std::abort();
        if (f.op != tif::SpanOp::bind && f.op != tif::SpanOp::unbind)
            std::abort();
    }
    return 0;
}

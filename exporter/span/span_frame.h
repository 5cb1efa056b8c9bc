// The span-context frame (proto/span_context.proto): a pure, allocation-free decoder for
// exactly that schema. Unknown fields are skipped per the protobuf wire rules; a known field
// with the wrong wire type or length, a truncated field, or a value out of range makes the
// whole frame malformed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "span_binding.h"

namespace tif {

inline constexpr size_t SPAN_FRAME_MAX_BYTES = 512;

enum class SpanOp : uint8_t { bind = 1, unbind = 2 };

struct SpanFrame {
    SpanOp op = SpanOp::bind;
    std::array<uint8_t, TIF_TRACE_ID_LEN> trace_id{};
    std::array<uint8_t, TIF_SPAN_ID_LEN> span_id{};
    uint8_t flags = 0;
    uint8_t name_len = 0;
    std::array<char, TIF_SPAN_NAME_LEN> name{};
    uint64_t sock_cookie = 0; // 0 = not given

    std::string_view name_view() const { return {name.data(), name_len}; }
};

enum class SpanDecode : uint8_t { ok, malformed, oversize };

// Decodes one datagram. `out` is only meaningful when the result is ok.
SpanDecode decode_span_frame(std::span<const uint8_t> in, SpanFrame& out);

} // namespace tif

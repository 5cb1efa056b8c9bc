#include "span/span_frame.h"

#include <algorithm>

namespace tif {

namespace {

enum WireType : uint8_t { VARINT = 0, I64 = 1, LEN = 2, SGROUP = 3, EGROUP = 4, I32 = 5 };
constexpr int MAX_GROUP_DEPTH = 8;

class Reader {
  public:
    explicit Reader(std::span<const uint8_t> in) : p_(in.data()), end_(in.data() + in.size()) {}
    bool done() const { return p_ == end_; }

    bool varint(uint64_t& v) {
        v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p_ == end_)
                return false;
            uint8_t b = *p_++;
            if (shift == 63 && b > 1) // the 10th byte may only carry the top bit
                return false;
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80))
                return true;
        }
        return false;
    }
    bool bytes(std::span<const uint8_t>& out) {
        uint64_t n = 0;
        if (!varint(n) || n > uint64_t(end_ - p_))
            return false;
        out = {p_, size_t(n)};
        p_ += n;
        return true;
    }
    bool skip(size_t n) {
        if (n > size_t(end_ - p_))
            return false;
        p_ += n;
        return true;
    }
    // Skips the value of an unknown field; groups are skipped up to their matching end.
    bool skip_value(uint32_t field, uint8_t wt, int depth) {
        uint64_t v;
        std::span<const uint8_t> b;
        switch (wt) {
        case VARINT:
            return varint(v);
        case I64:
            return skip(8);
        case LEN:
            return bytes(b);
        case I32:
            return skip(4);
        case SGROUP:
            if (depth >= MAX_GROUP_DEPTH)
                return false;
            for (;;) {
                uint64_t key;
                if (!varint(key) || (key >> 3) == 0 || (key >> 3) > 0x1fffffff)
                    return false;
                if ((key & 7) == EGROUP)
                    return (key >> 3) == field;
                if (!skip_value(uint32_t(key >> 3), uint8_t(key & 7), depth + 1))
                    return false;
            }
        default: // a stray end-group, or wire types 6 and 7
            return false;
        }
    }

  private:
    const uint8_t* p_;
    const uint8_t* end_;
};

bool all_zero(std::span<const uint8_t> b) {
    return std::all_of(b.begin(), b.end(), [](uint8_t c) { return c == 0; });
}

} // namespace

SpanDecode decode_span_frame(std::span<const uint8_t> in, SpanFrame& out) {
    if (in.size() > SPAN_FRAME_MAX_BYTES)
        return SpanDecode::oversize;
    out = SpanFrame{};
    Reader r(in);
    uint64_t op = 0;
    bool have_trace = false, have_span = false;
    while (!r.done()) {
        uint64_t key = 0;
        if (!r.varint(key))
            return SpanDecode::malformed;
        const uint64_t field = key >> 3;
        const uint8_t wt = key & 7;
        if (field == 0 || field > 0x1fffffff)
            return SpanDecode::malformed;
        std::span<const uint8_t> b;
        uint64_t v = 0;
        switch (field) {
        case 1: // op
        case 4: // trace_flags
        case 6: // sock_cookie
            if (wt != VARINT || !r.varint(v))
                return SpanDecode::malformed;
            if (field == 1)
                op = v;
            else if (field == 4) {
                if (v > 0xff)
                    return SpanDecode::malformed;
                out.flags = uint8_t(v);
            } else
                out.sock_cookie = v;
            break;
        case 2: // trace_id
        case 3: // span_id
        case 5: // name
            if (wt != LEN || !r.bytes(b))
                return SpanDecode::malformed;
            if (field == 2) {
                if (b.size() != TIF_TRACE_ID_LEN)
                    return SpanDecode::malformed;
                std::copy(b.begin(), b.end(), out.trace_id.begin());
                have_trace = true;
            } else if (field == 3) {
                if (b.size() != TIF_SPAN_ID_LEN)
                    return SpanDecode::malformed;
                std::copy(b.begin(), b.end(), out.span_id.begin());
                have_span = true;
            } else {
                if (b.size() > TIF_SPAN_NAME_LEN)
                    return SpanDecode::malformed;
                for (uint8_t c : b)
                    if (c < 0x20 || c > 0x7e) // printable ASCII: safe in JSON and labels
                        return SpanDecode::malformed;
                std::copy(b.begin(), b.end(), out.name.begin());
                out.name_len = uint8_t(b.size());
            }
            break;
        default:
            if (!r.skip_value(uint32_t(field), wt, 0))
                return SpanDecode::malformed;
        }
    }
    if (op == 1) {
        if (!have_trace || !have_span || all_zero(out.trace_id) || all_zero(out.span_id))
            return SpanDecode::malformed;
        out.op = SpanOp::bind;
    } else if (op == 2) {
        out.op = SpanOp::unbind;
    } else {
        return SpanDecode::malformed;
    }
    return SpanDecode::ok;
}

} // namespace tif

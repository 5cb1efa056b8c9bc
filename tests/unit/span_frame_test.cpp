#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/span_options.h"
#include "span/span_frame.h"
#include "traceiface_span.h"

using namespace tif;

namespace {
const std::array<uint8_t, 16> T = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
const std::array<uint8_t, 8> S = {0xa, 0xb, 0xc, 0xd, 0xe, 0xf, 0x1, 0x2};

SpanDecode decode(const std::string& b, SpanFrame& f) {
    return decode_span_frame({reinterpret_cast<const uint8_t*>(b.data()), b.size()}, f);
}
SpanDecode decode(const std::string& b) {
    SpanFrame f;
    return decode(b, f);
}
std::string bind_frame(std::string_view name = "user.GetProfile", uint64_t cookie = 0) {
    return traceiface::encode_span_frame(traceiface::SpanOp::bind, &T, &S, 1, name, cookie);
}
} // namespace

TEST_CASE("a bind frame from the C++ client decodes field by field") {
    SpanFrame f;
    REQUIRE(decode(bind_frame("user.GetProfile", 1234567), f) == SpanDecode::ok);
    CHECK(f.op == SpanOp::bind);
    CHECK(f.trace_id == T);
    CHECK(f.span_id == S);
    CHECK(f.flags == 1);
    CHECK(f.name_view() == "user.GetProfile");
    CHECK(f.sock_cookie == 1234567);
}

TEST_CASE("unbind needs no ids; an unknown or missing op is malformed") {
    CHECK(decode(traceiface::encode_span_frame(traceiface::SpanOp::unbind, nullptr, nullptr, 0,
                                               {})) == SpanDecode::ok);
    CHECK(decode(std::string("\x08\x03", 2)) == SpanDecode::malformed);
    CHECK(decode(std::string()) == SpanDecode::malformed);
    // bind without a span id, or with an all-zero trace id (invalid in W3C trace context)
    traceiface::SpanFrameWriter w;
    w.varint_field(1, 1);
    w.bytes_field(2, T.data(), 16);
    CHECK(decode(w.bytes()) == SpanDecode::malformed);
    std::array<uint8_t, 16> zero{};
    CHECK(decode(traceiface::encode_span_frame(traceiface::SpanOp::bind, &zero, &S, 1, {})) ==
          SpanDecode::malformed);
}

TEST_CASE("unknown fields of every wire type are skipped") {
    std::string b = bind_frame();
    b += std::string("\x38\x96\x01", 3);               // field 7 varint 150
    b += std::string("\x41") + std::string(8, '\x01'); // field 8 fixed64
    b += std::string("\x4a\x03xyz", 5);                // field 9 length-delimited
    b += std::string("\x55") + std::string(4, '\x02'); // field 10 fixed32
    b += std::string("\x5b\x08\x01\x62\x01z\x5c", 7);  // field 11 group {1:1, 12:"z"}
    b += std::string("\xf8\xff\xff\xff\x0f\x00", 6);   // field 2^29-1 varint 0
    CHECK(decode(b) == SpanDecode::ok);
}

TEST_CASE("wrong wire types, lengths and truncation are malformed") {
    const std::string good = bind_frame();
    CHECK(decode(std::string("\x09") + std::string(8, '\0')) == SpanDecode::malformed); // op I64
    CHECK(decode(std::string("\x08\x01\x10\x01", 4)) == SpanDecode::malformed); // trace varint
    traceiface::SpanFrameWriter w;
    w.varint_field(1, 1);
    w.bytes_field(2, T.data(), 15); // 15-byte trace id
    w.bytes_field(3, S.data(), 8);
    CHECK(decode(w.bytes()) == SpanDecode::malformed);
    CHECK(decode(good.substr(0, 10)) == SpanDecode::malformed);                // inside trace_id
    CHECK(decode(good.substr(0, good.size() - 1)) == SpanDecode::malformed);   // inside name
    CHECK(decode(good + std::string("\x5c", 1)) == SpanDecode::malformed);     // stray end-group
    CHECK(decode(good + std::string("\x5b\x64", 2)) == SpanDecode::malformed); // group mismatch
    CHECK(decode(good + std::string("\x5e", 1)) == SpanDecode::malformed);     // wire type 6
    CHECK(decode(std::string("\x00\x01", 2)) == SpanDecode::malformed);        // field 0
    CHECK(decode(good + std::string(11, '\xff')) == SpanDecode::malformed);    // endless varint
}

TEST_CASE("values out of range") {
    traceiface::SpanFrameWriter w;
    w.varint_field(1, 1);
    w.bytes_field(2, T.data(), 16);
    w.bytes_field(3, S.data(), 8);
    auto base = w.bytes();
    traceiface::SpanFrameWriter flags = w;
    flags.varint_field(4, 256);
    CHECK(decode(flags.bytes()) == SpanDecode::malformed);
    CHECK(decode(bind_frame(std::string(32, 'n'))) == SpanDecode::ok);
    CHECK(decode(bind_frame(std::string(33, 'n'))) == SpanDecode::malformed);
    CHECK(decode(bind_frame("tab\there")) == SpanDecode::malformed);
    CHECK(decode(bind_frame("caf\xc3\xa9")) == SpanDecode::malformed);
    CHECK(decode(base + std::string(SPAN_FRAME_MAX_BYTES, '\0')) == SpanDecode::oversize);
}

TEST_CASE("a repeated field: the last one wins, as protobuf says") {
    SpanFrame f;
    REQUIRE(decode(bind_frame("first") + std::string("\x2a\x02ok", 4), f) == SpanDecode::ok);
    CHECK(f.name_view() == "ok");
}

TEST_CASE("--span.* flags") {
    auto ids = parse_id_list("--span.allow-uids", "1000,1001");
    REQUIRE(ids);
    CHECK(*ids == std::vector<uint32_t>{1000, 1001});
    CHECK_FALSE(parse_id_list("--span.allow-uids", "1000,"));
    CHECK_FALSE(parse_id_list("--span.allow-uids", "x"));
    CHECK(parse_id_list("--span.allow-uids", "")->empty());
    SpanOptions o;
    FlagMap flags;
    add_span_flags(flags, o);
    CHECK(flags.at("--span.socket-mode")("0600"));
    CHECK(o.socket_mode == 0600);
    CHECK_FALSE(flags.at("--span.socket-mode")("0800"));
    CHECK_FALSE(flags.at("--span.socket")("relative/path"));
    CHECK(flags.at("--span.socket")(""));
    CHECK(o.socket_path.empty());
    CHECK(flags.at("--span.ttl")("30s"));
    CHECK(o.ttl_ns == 30'000'000'000);
    CHECK_FALSE(flags.at("--span.ttl")("10ms"));
    CHECK_FALSE(flags.at("--span.max-clients")("0"));
}

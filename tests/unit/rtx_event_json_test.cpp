#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include "tcp/rtx_event_json.h"

using namespace tif;

namespace {
tif_rtx_event v4_event() {
    tif_rtx_event e{};
    e.ts_boot_ns = 5'000'000'123;
    e.sock_cookie = 42;
    e.iface.netns_ino = e.route_iface.netns_ino = 1;
    e.iface.ifindex = e.route_iface.ifindex = 3;
    e.family = AF_INET;
    inet_pton(AF_INET, "10.1.2.3", e.saddr);
    inet_pton(AF_INET, "10.1.2.4", e.daddr);
    e.sport = 40000;
    e.dport = 5201;
    e.state = 1;
    e.kind = TIF_RTX_RTO;
    e.segs = 3;
    e.srtt_us = 1500;
    return e;
}
} // namespace

TEST_CASE("a retransmit line carries the documented fields") {
    auto j = rtx_event_json(v4_event(), 1'700'000'000'000'000'000, "veth1", "veth1");
    CHECK(j["ts"] == "2023-11-14T22:13:25.000000123Z");
    CHECK(j["level"] == "info");
    CHECK(j["event"] == "tcp_retransmit");
    CHECK(j["v"] == LOG_SCHEMA_VERSION);
    CHECK(j["iface"] == "veth1");
    CHECK_FALSE(j.contains("route_iface"));
    CHECK(j["saddr"] == "10.1.2.3");
    CHECK(j["daddr"] == "10.1.2.4");
    CHECK(j["sport"] == 40000);
    CHECK(j["dport"] == 5201);
    CHECK(j["state"] == "ESTABLISHED");
    CHECK(j["kind"] == "rto");
    CHECK(j["segs"] == 3);
    CHECK(j["srtt_us"] == 1500);
    CHECK(j["sock_cookie"] == 42);
    CHECK_FALSE(j.contains("err"));
    // Field order: ts first, so a human reading the raw stream sees time first.
    CHECK(j.begin().key() == "ts");
}

TEST_CASE("IPv6, a failed retransmit and a container's own view") {
    auto e = v4_event();
    e.family = AF_INET6;
    inet_pton(AF_INET6, "fd00::1", e.saddr);
    inet_pton(AF_INET6, "::ffff:10.0.0.1", e.daddr);
    e.err = 1;
    auto j = rtx_event_json(e, 0, "vethab12", "netns-4026532999/eth0");
    CHECK(j["family"] == "ipv6");
    CHECK(j["saddr"] == "fd00::1");
    CHECK(j["daddr"] == "::ffff:10.0.0.1");
    CHECK(j["err"] == 1);
    CHECK(j["route_iface"] == "netns-4026532999/eth0");
}

TEST_CASE("names of states and kinds, with out-of-range values") {
    CHECK(tcp_state_name(2) == "SYN_SENT");
    CHECK(tcp_state_name(200) == "UNKNOWN");
    CHECK(rtx_kind_name(TIF_RTX_SYNACK) == "synack");
    CHECK(rtx_kind_name(99) == "other");
}

TEST_CASE("a bound flow's line carries its trace context") {
    auto e = v4_event();
    CHECK_FALSE(rtx_event_json(e, 0, "veth1", "veth1").contains("trace_id"));
    for (uint8_t i = 0; i < 16; ++i)
        e.trace_id[i] = uint8_t(0xa0 + i);
    for (uint8_t i = 0; i < 8; ++i)
        e.span_id[i] = uint8_t(i + 1);
    std::memcpy(e.span_name, "user.GetProfile", 15);
    e.bound = 1;
    auto j = rtx_event_json(e, 0, "veth1", "veth1");
    CHECK(j["trace_id"] == "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    CHECK(j["span_id"] == "0102030405060708");
    CHECK(j["name"] == "user.GetProfile");
    // A 32-byte name has no NUL; an empty one is left out.
    std::memset(e.span_name, 'x', sizeof(e.span_name));
    CHECK(rtx_event_json(e, 0, "veth1", "veth1")["name"] == std::string(32, 'x'));
    std::memset(e.span_name, 0, sizeof(e.span_name));
    CHECK_FALSE(rtx_event_json(e, 0, "veth1", "veth1").contains("name"));
}

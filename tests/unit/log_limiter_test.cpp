#include <doctest/doctest.h>

#include "log/log_limiter.h"

using namespace tif;

namespace {
struct FakeClock {
    int64_t now = 1'000'000'000;
    LogLimiter::Clock fn() {
        return [this] { return now; };
    }
    void advance_ms(int64_t ms) { now += ms * 1'000'000; }
};
} // namespace

TEST_CASE("a burst passes, then the rate; the rest is counted per iface and event") {
    FakeClock c;
    LogLimiter l(10, 5, c.fn());
    int written = 0;
    for (int i = 0; i < 20; ++i)
        written += l.allow("eth0", "tcp_retransmit");
    CHECK(written == 5);
    CHECK(l.suppressed_total() == 15);
    c.advance_ms(500); // 10/s: five more tokens
    for (int i = 0; i < 20; ++i)
        written += l.allow("eth0", "tcp_retransmit");
    CHECK(written == 10);
    CHECK(l.suppressed() == std::map<LogLimiter::Key, uint64_t>{{{"eth0", "tcp_retransmit"}, 30}});
}

TEST_CASE("interfaces and events have their own buckets") {
    FakeClock c;
    LogLimiter l(1, 1, c.fn());
    CHECK(l.allow("eth0", "tcp_retransmit"));
    CHECK_FALSE(l.allow("eth0", "tcp_retransmit"));
    CHECK(l.allow("eth1", "tcp_retransmit"));
    CHECK(l.allow("eth0", "other_event"));
    CHECK(l.suppressed().size() == 1);
}

TEST_CASE("tokens never exceed the burst, however long the pause") {
    FakeClock c;
    LogLimiter l(100, 3, c.fn());
    for (int i = 0; i < 3; ++i)
        CHECK(l.allow("a", "e"));
    c.advance_ms(3'600'000);
    int written = 0;
    for (int i = 0; i < 10; ++i)
        written += l.allow("a", "e");
    CHECK(written == 3);
}

TEST_CASE("burst 0 means one second's worth; rate 0 means unlimited") {
    FakeClock c;
    LogLimiter l(4, 0, c.fn());
    int written = 0;
    for (int i = 0; i < 10; ++i)
        written += l.allow("a", "e");
    CHECK(written == 4);
    l.set_rate(0, 0);
    for (int i = 0; i < 1000; ++i)
        CHECK(l.allow("a", "e"));
    CHECK(l.suppressed_total() == 6); // counts stay across a change
}

TEST_CASE("a clock that goes backwards does not mint tokens") {
    FakeClock c;
    LogLimiter l(1, 1, c.fn());
    CHECK(l.allow("a", "e"));
    c.advance_ms(-10'000);
    CHECK_FALSE(l.allow("a", "e"));
    c.advance_ms(10'000);
    CHECK_FALSE(l.allow("a", "e"));
    c.advance_ms(1000);
    CHECK(l.allow("a", "e"));
}

TEST_CASE("memory stays bounded: idle buckets are forgotten") {
    FakeClock c;
    LogLimiter l(1, 1, c.fn());
    for (size_t i = 0; i < LogLimiter::MAX_BUCKETS + 100; ++i) {
        l.allow("if" + std::to_string(i), "e");
        if (i == LogLimiter::MAX_BUCKETS / 2)
            c.advance_ms(2000); // the first half is idle (full again) from here on
    }
    CHECK(l.buckets() <= LogLimiter::MAX_BUCKETS);
    CHECK(l.suppressed_total() == 0);
}

TEST_CASE("the collector exports the suppressed counts") {
    FakeClock c;
    auto l = std::make_shared<LogLimiter>(1, 1, c.fn());
    l->allow("eth0", "tcp_retransmit");
    l->allow("eth0", "tcp_retransmit");
    auto col = make_log_limiter_collector(l);
    std::vector<prometheus::MetricFamily> out;
    REQUIRE(col->collect(out));
    REQUIRE(out.size() == 1);
    CHECK(out[0].name == "traceiface_log_lines_suppressed_total");
    REQUIRE(out[0].metric.size() == 1);
    CHECK(out[0].metric[0].counter.value == 1);
}

TEST_CASE("a vanished interface's buckets and counts are forgotten; the total keeps them") {
    FakeClock c;
    LogLimiter l(1, 1, c.fn());
    for (int i = 0; i < 3; ++i) {
        l.allow("veth1", "tcp_retransmit");
        l.allow("eth0", "tcp_retransmit");
    }
    l.forget_iface("veth1");
    CHECK(l.suppressed() == std::map<LogLimiter::Key, uint64_t>{{{"eth0", "tcp_retransmit"}, 2}});
    CHECK(l.suppressed_total() == 4);
    CHECK(l.buckets() == 1);
}

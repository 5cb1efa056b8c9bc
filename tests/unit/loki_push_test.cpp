#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "log/loki_push.h"

using namespace tif;
using nlohmann::json;

namespace {
// Loki's documented push body (POST /loki/api/v1/push, application/json): {"streams": [{"stream":
// {label: value}, "values": [["<unix ns>", "<line>"] or ["<unix ns>", "<line>", {metadata}]]}]}.
void check_loki_shape(const json& b) {
    REQUIRE(b.is_object());
    REQUIRE(b.size() == 1);
    REQUIRE(b["streams"].is_array());
    for (const auto& s : b["streams"]) {
        REQUIRE(s.size() == 2);
        REQUIRE(s["stream"].is_object());
        for (const auto& [k, v] : s["stream"].items())
            CHECK(v.is_string());
        REQUIRE(s["values"].is_array());
        for (const auto& v : s["values"]) {
            REQUIRE(v.is_array());
            REQUIRE((v.size() == 2 || v.size() == 3));
            REQUIRE(v[0].is_string());
            CHECK(v[0].get<std::string>().find_first_not_of("0123456789") == std::string::npos);
            CHECK(v[1].is_string());
            if (v.size() == 3) {
                REQUIRE(v[2].is_object());
                for (const auto& [k, m] : v[2].items())
                    CHECK(m.is_string());
            }
        }
    }
}

Fields event_line(const char* iface, const char* trace) {
    Fields j = log_head(0, Level::info, "tcp retransmit");
    j["ts"] = "2026-11-24T16:10:43.109797845Z";
    j["event"] = "tcp_retransmit";
    j["iface"] = iface;
    if (trace)
        j["trace_id"] = trace;
    return j;
}

// A local Loki stand-in: answers each push with the next status of `statuses` (then 204).
struct Receiver {
    httplib::Server srv;
    std::thread t;
    int port = 0;
    std::mutex mu;
    std::vector<std::string> bodies, types;
    std::vector<int> statuses;
    explicit Receiver(std::vector<int> s) : statuses(std::move(s)) {
        srv.Post("/loki/api/v1/push", [this](const httplib::Request& req, httplib::Response& res) {
            std::lock_guard lk(mu);
            bodies.push_back(req.body);
            types.push_back(req.get_header_value("Content-Type"));
            res.status = bodies.size() <= statuses.size() ? statuses[bodies.size() - 1] : 204;
        });
        port = srv.bind_to_any_port("127.0.0.1");
        t = std::thread([this] { srv.listen_after_bind(); });
        while (!srv.is_running()) // stop() before that would be lost
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ~Receiver() {
        srv.stop();
        t.join();
    }
    std::string url() { return "http://127.0.0.1:" + std::to_string(port) + "/loki/api/v1/push"; }
};

LokiPusher::Options fast(std::string url) {
    LokiPusher::Options o;
    o.url = std::move(url);
    o.flush_interval = std::chrono::milliseconds(20);
    o.min_backoff = std::chrono::milliseconds(10);
    o.max_backoff = std::chrono::milliseconds(40);
    return o;
}
} // namespace

TEST_CASE("a line becomes a Loki entry: ts, iface stream, trace ids as metadata") {
    auto e = loki_entry(event_line("eth0", "0af7651916cd43dd8448eb211c80319c"));
    CHECK(e.iface == "eth0");
    CHECK(e.ts_ns == 1795536643109797845);
    CHECK(e.metadata ==
          std::map<std::string, std::string>{{"trace_id", "0af7651916cd43dd8448eb211c80319c"}});
    CHECK(json::parse(e.line)["event"] == "tcp_retransmit");
}

TEST_CASE("the push body has Loki's documented shape, one stream per iface") {
    std::vector<LokiEntry> es = {
        loki_entry(event_line("eth0", "ab")), loki_entry(event_line("veth1", nullptr)),
        loki_entry(event_line("eth0", nullptr)), loki_entry(log_head(1, Level::info, "starting"))};
    json b = json::parse(loki_push_body(es, "traceiface"));
    check_loki_shape(b);
    REQUIRE(b["streams"].size() == 3);
    std::map<std::string, json> by_iface;
    for (const auto& s : b["streams"]) {
        CHECK(s["stream"]["job"] == "traceiface");
        by_iface[s["stream"].value("iface", "")] = s;
    }
    CHECK(by_iface[""]["stream"].size() == 1); // the daemon's lines: job only
    REQUIRE(by_iface["eth0"]["values"].size() == 2);
    CHECK(by_iface["eth0"]["values"][0][0] == "1795536643109797845");
    CHECK(by_iface["eth0"]["values"][0][2] == json{{"trace_id", "ab"}});
    CHECK(by_iface["eth0"]["values"][1].size() == 2); // no metadata, no third element
}

TEST_CASE("URLs") {
    CHECK(parse_loki_url("http://127.0.0.1:3100/loki/api/v1/push")->scheme_host_port ==
          "http://127.0.0.1:3100");
    CHECK(parse_loki_url("http://loki:3100")->path == "/loki/api/v1/push");
    CHECK_FALSE(parse_loki_url("loki:3100"));
    CHECK_FALSE(parse_loki_url("ftp://loki/x"));
    CHECK_FALSE(parse_loki_url("http:///x"));
}

TEST_CASE("pushes reach a receiver, a 5xx is retried, nothing is lost") {
    Receiver r({503});
    auto p = LokiPusher::start(fast(r.url()));
    REQUIRE(p);
    for (int i = 0; i < 3; ++i)
        (*p)->push(loki_entry(event_line("eth0", "ab")));
    for (int i = 0; i < 200 && (*p)->counters().sent < 3; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    (*p)->stop();
    auto c = (*p)->counters();
    CHECK(c.sent == 3);
    CHECK(c.failures == 1);
    CHECK(c.dropped == 0);
    std::lock_guard lk(r.mu);
    REQUIRE(r.bodies.size() == 2); // the refused one, then its retry
    CHECK(r.bodies[0] == r.bodies[1]);
    CHECK(r.types[1] == "application/json");
    check_loki_shape(json::parse(r.bodies[1]));
}

TEST_CASE("a 400 is not retried; its lines count as dropped") {
    Receiver r({400});
    auto p = LokiPusher::start(fast(r.url()));
    REQUIRE(p);
    (*p)->push(loki_entry(event_line("eth0", nullptr)));
    for (int i = 0; i < 200 && (*p)->counters().failures < 1; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    (*p)->stop();
    CHECK((*p)->counters().dropped == 1);
    CHECK((*p)->counters().sent == 0);
}

TEST_CASE("memory is bounded while Loki is away; stop does not hang") {
    auto o = fast("http://127.0.0.1:1/loki/api/v1/push"); // tcpmux: nothing listens
    o.max_buffered = 5;
    o.batch_lines = 100;
    auto p = LokiPusher::start(o);
    REQUIRE(p);
    for (int i = 0; i < 20; ++i)
        (*p)->push(loki_entry(event_line("eth0", nullptr)));
    CHECK((*p)->counters().dropped >= 15);
    auto t0 = std::chrono::steady_clock::now();
    (*p)->stop();
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(8));
    CHECK((*p)->counters().dropped == 20);
}

// Event lines -> OTLP log records (exporter/otlp/otlp_log_mapping.h), read back through the
// generated messages after a serialize/parse round trip; --otlp.logs (flag and config file);
// the log exporter's queue bound and its account (lines = exported + dropped + queued).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

#include "config/config_file.h"
#include "config/options.h"
#include "otlp/otlp_log_exporter.h"
#include "otlp/otlp_log_mapping.h"
#include "tcp/rtx_event_json.h"

using namespace tif;
namespace pbl = opentelemetry::proto::logs::v1;
namespace pbc = opentelemetry::proto::common::v1;

namespace {
tif_rtx_event bound_event() {
    tif_rtx_event e{};
    e.ts_boot_ns = 5'000'000'123;
    e.sock_cookie = 42;
    e.iface.netns_ino = 1;
    e.route_iface.netns_ino = 4026532177;
    e.iface.ifindex = 28;
    e.route_iface.ifindex = 2;
    e.family = AF_INET;
    inet_pton(AF_INET, "10.213.0.2", e.saddr);
    inet_pton(AF_INET, "10.213.0.1", e.daddr);
    e.sport = 40860;
    e.dport = 5201;
    e.state = 1;
    e.kind = TIF_RTX_FAST;
    e.segs = 2;
    e.srtt_us = 19054;
    for (uint8_t i = 0; i < 16; ++i)
        e.trace_id[i] = uint8_t(0xa0 + i);
    for (uint8_t i = 0; i < 8; ++i)
        e.span_id[i] = uint8_t(i + 1);
    std::memcpy(e.span_name, "user.GetProfile", 15);
    e.bound = 1;
    return e;
}

const pbc::AnyValue* attr(const pbl::LogRecord& r, const std::string& key) {
    for (const auto& kv : r.attributes())
        if (kv.key() == key)
            return &kv.value();
    return nullptr;
}

// Through the wire format, as a receiver sees it.
otlp_pb::collector::logs::v1::ExportLogsServiceRequest
round_trip(const otlp_pb::collector::logs::v1::ExportLogsServiceRequest& r) {
    otlp_pb::collector::logs::v1::ExportLogsServiceRequest back;
    REQUIRE(back.ParseFromString(r.SerializeAsString()));
    return back;
}
} // namespace

TEST_CASE("otlp logs: a bound retransmit line -> a LogRecord with its trace and span ids") {
    const PodIdentity pod{.namespace_ = "shop", .pod = "cart-7d9f", .uid = "u-1", .labels = {}};
    const Fields line = rtx_event_json(bound_event(), 1'700'000'000'000'000'000, "vethab12",
                                       "netns-4026532177/eth0",
                                       {.pod = &pod, .host_network = false, .container_id = {}});
    auto req = round_trip(to_otlp_logs_request({{line, 1'700'000'000'500'000'000}},
                                               {.service_version = "1.2.3", .host_name = "n1"}));
    REQUIRE(req.resource_logs_size() == 1);
    const auto& rl = req.resource_logs(0);
    std::map<std::string, std::string> res;
    for (const auto& kv : rl.resource().attributes())
        res[kv.key()] = kv.value().string_value();
    CHECK(res == std::map<std::string, std::string>{{"service.name", "traceiface"},
                                                    {"service.version", "1.2.3"},
                                                    {"host.name", "n1"}});
    REQUIRE(rl.scope_logs_size() == 1);
    CHECK(rl.scope_logs(0).scope().name() == "traceiface");
    CHECK(rl.scope_logs(0).scope().version() == "1.2.3");
    REQUIRE(rl.scope_logs(0).log_records_size() == 1);
    const auto& r = rl.scope_logs(0).log_records(0);

    CHECK(r.time_unix_nano() == 1'700'000'005'000'000'123ull); // the line's ts, to the ns
    CHECK(r.observed_time_unix_nano() == 1'700'000'000'500'000'000ull);
    CHECK(r.severity_number() == pbl::SEVERITY_NUMBER_INFO);
    CHECK(int(r.severity_number()) == 9); // the published number
    CHECK(r.severity_text() == "info");
    CHECK(r.event_name() == "tcp_retransmit");
    // The body is the very line stdout gets.
    REQUIRE(r.body().value_case() == pbc::AnyValue::kStringValue);
    CHECK(r.body().string_value() == line.dump());
    CHECK(Fields::parse(r.body().string_value()) == line);
    // The ids as raw bytes, not hex.
    CHECK(r.trace_id() ==
          std::string("\xa0\xa1\xa2\xa3\xa4\xa5\xa6\xa7\xa8\xa9\xaa\xab\xac\xad\xae\xaf", 16));
    CHECK(r.span_id() == std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));

    // Attributes, typed as in the line.
    for (const auto& [k, v] :
         std::map<std::string, std::string>{{"event", "tcp_retransmit"},
                                            {"iface", "vethab12"},
                                            {"route_iface", "netns-4026532177/eth0"},
                                            {"namespace", "shop"},
                                            {"pod", "cart-7d9f"},
                                            {"saddr", "10.213.0.2"},
                                            {"daddr", "10.213.0.1"},
                                            {"kind", "fast"},
                                            {"state", "ESTABLISHED"}}) {
        REQUIRE_MESSAGE(attr(r, k), k);
        CHECK_MESSAGE(attr(r, k)->string_value() == v, k);
    }
    for (const auto& [k, v] :
         std::map<std::string, int64_t>{{"sport", 40860}, {"dport", 5201}, {"segs", 2}}) {
        REQUIRE_MESSAGE(attr(r, k), k);
        CHECK_MESSAGE(attr(r, k)->value_case() == pbc::AnyValue::kIntValue, k);
        CHECK_MESSAGE(attr(r, k)->int_value() == v, k);
    }
    // Everything else stays in the body only.
    for (const char* k : {"trace_id", "span_id", "ts", "msg", "srtt_us", "sock_cookie", "pod_uid"})
        CHECK_MESSAGE(attr(r, k) == nullptr, k);
    CHECK(r.attributes_size() == 12);
}

TEST_CASE("otlp logs: unbound lines, bad or zero ids, other levels") {
    auto e = bound_event();
    e.bound = 0;
    const Fields plain = rtx_event_json(e, 0, "eth0", "eth0");
    pbl::LogRecord r;
    to_otlp_log_record(plain, 7, &r);
    CHECK(r.trace_id().empty());
    CHECK(r.span_id().empty());
    CHECK(attr(r, "namespace") == nullptr); // absent from the line: no attribute
    CHECK(attr(r, "route_iface") == nullptr);
    CHECK(attr(r, "iface")->string_value() == "eth0");

    Fields odd = plain;
    odd["trace_id"] = "not-hex-not-hex-not-hex-not-hex!";
    odd["span_id"] = "0000000000000000"; // all zeros: invalid in W3C trace context
    odd["level"] = "warn";
    odd["ts"] = "yesterday";
    odd["host_network"] = true;
    r.Clear();
    to_otlp_log_record(odd, 7, &r);
    CHECK(r.trace_id().empty());
    CHECK(r.span_id().empty());
    CHECK(r.severity_number() == pbl::SEVERITY_NUMBER_WARN);
    CHECK(r.severity_text() == "warn");
    CHECK(r.time_unix_nano() == 0); // unknown, as OTLP spells it
    CHECK(r.observed_time_unix_nano() == 7);
    REQUIRE(attr(r, "host_network"));
    CHECK(attr(r, "host_network")->bool_value());
    for (auto [level, n] : {std::pair{"debug", 5}, {"error", 17}, {"loud", 0}}) {
        odd["level"] = level;
        r.Clear();
        to_otlp_log_record(odd, 7, &r);
        CHECK_MESSAGE(int(r.severity_number()) == n, level);
    }
}

TEST_CASE("otlp logs: many lines, one request, order kept") {
    std::vector<OtlpLogLine> lines;
    for (int i = 0; i < 5; ++i) {
        auto e = bound_event();
        e.segs = uint32_t(i + 1);
        lines.push_back({rtx_event_json(e, 0, "veth" + std::to_string(i), "x"), uint64_t(i)});
    }
    auto req = round_trip(to_otlp_logs_request(lines, {}));
    const auto& recs = req.resource_logs(0).scope_logs(0).log_records();
    REQUIRE(recs.size() == 5);
    for (int i = 0; i < 5; ++i) {
        CHECK(attr(recs[i], "iface")->string_value() == "veth" + std::to_string(i));
        CHECK(attr(recs[i], "segs")->int_value() == i + 1);
    }
}

TEST_CASE("otlp logs: --otlp.logs, in flags and in the config file") {
    auto o = parse_options({});
    REQUIRE(o);
    CHECK_FALSE(o->otlp.logs);
    o = parse_options({"--otlp.endpoint=http://c:4318", "--otlp.logs"});
    REQUIRE(o);
    CHECK(o->otlp.logs);
    CHECK(OtlpLogExporter::wanted(o->otlp));
    o = parse_options({"--otlp.logs", "--otlp.endpoint=http://c:4318"}); // bare, then another flag
    REQUIRE(o);
    CHECK(o->otlp.logs);
    o = parse_options({"--otlp.logs=false", "--otlp.endpoint=http://c:4318"});
    REQUIRE(o);
    CHECK_FALSE(o->otlp.logs);
    CHECK_FALSE(OtlpLogExporter::wanted(o->otlp));
    o = parse_options({"--otlp.logs=true"}); // no endpoint: nothing to send to
    REQUIRE(o);
    CHECK_FALSE(OtlpLogExporter::wanted(o->otlp));
    CHECK_FALSE(parse_options({"--otlp.logs=yes"}));

    auto args = config_args_from_yaml("otlp: {endpoint: \"http://c:4318\", logs: true}\n", "c.yml");
    REQUIRE(args);
    REQUIRE(args->size() == 2);
    CHECK((*args)[1].arg == "--otlp.logs=true");
    auto bad = config_args_from_yaml("otlp:\n  logs: yes\n", "c.yml");
    REQUIRE(bad);
    auto parsed = parse_options({(*bad)[0].arg});
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().what.find("--otlp.logs: true or false") != std::string::npos);

    // The signal's path, whatever signal the URL was written for.
    CHECK(parse_otlp_endpoint("http://c:4318", OTLP_LOGS_PATH)->path == "/v1/logs");
    CHECK(parse_otlp_endpoint("https://c/otlp/", OTLP_LOGS_PATH)->path == "/otlp/v1/logs");
    CHECK(parse_otlp_endpoint("http://c:4318/v1/metrics", OTLP_LOGS_PATH)->path == "/v1/logs");
    CHECK(parse_otlp_endpoint("http://c:4318/v1/logs")->path == "/v1/metrics");
    CHECK(parse_otlp_endpoint("http://c:4318/v1/logs", OTLP_LOGS_PATH)->path == "/v1/logs");
}

TEST_CASE("otlp logs: the queue is bounded and every line is accounted for") {
    // Off (no --otlp.logs): nothing is queued, nothing counted.
    OtlpOptions o;
    o.endpoint = "http://c:4318";
    auto off = OtlpLogExporter::start({.otlp = o, .resource = {}});
    REQUIRE(off);
    const Fields line = rtx_event_json(bound_event(), 0, "eth0", "eth0");
    (*off)->push(line);
    auto c = (*off)->counters();
    CHECK(c.queued + c.queue_full + c.exported == 0);
    (*off)->stop();

    // On, with an hour to the first send: 3 queued, the other 4 dropped as queue_full. At stop
    // the receiver had never failed, so the queue is sent (nothing listens on port 1 of the
    // loopback: refused at once) and counted as export_failed.
    o.endpoint = "http://127.0.0.1:1";
    o.interval_ns = 3'600'000'000'000;
    o.logs = true;
    auto on =
        OtlpLogExporter::start({.otlp = o, .resource = {}, .max_queued = 3, .batch_records = 100});
    REQUIRE(on);
    for (int i = 0; i < 7; ++i)
        (*on)->push(line);
    c = (*on)->counters();
    CHECK(c.queued == 3);
    CHECK(c.queue_full == 4);
    (*on)->stop();
    c = (*on)->counters();
    CHECK(c.queued == 0);
    CHECK(c.exported == 0);
    CHECK(c.export_failed + c.shutdown == 3);
    CHECK(c.queue_full + c.export_failed + c.shutdown + c.exported == 7);
    (*on)->push(line); // after stop: ignored
    CHECK((*on)->counters().queued == 0);
}

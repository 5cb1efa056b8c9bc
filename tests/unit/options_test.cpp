#include <doctest/doctest.h>

#include "config/options.h"

using namespace tif;

TEST_CASE("defaults follow exporter conventions") {
    auto o = parse_options({});
    REQUIRE(o);
    CHECK(o->listen.host.empty());
    CHECK(o->listen.port == DEFAULT_PORT);
    CHECK(DEFAULT_PORT != 9435);
    CHECK(o->telemetry_path == "/metrics");
    CHECK(o->log_level == Level::info);
}

TEST_CASE("listen addresses") {
    auto a = parse_listen_address("127.0.0.1:9999");
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 9999);
    a = parse_listen_address(":1234");
    REQUIRE(a);
    CHECK(a->host.empty());
    a = parse_listen_address("[::1]:80");
    REQUIRE(a);
    CHECK(a->host == "::1");
    CHECK(a->port == 80);
    for (const char* bad :
         {"", "9100", "host:", "host:0", "host:65536", "::1:80", "[::1]80", "h:12x"}) {
        CAPTURE(bad);
        auto r = parse_listen_address(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().what.find("--web.listen-address") != std::string::npos);
    }
}

TEST_CASE("both --flag=value and --flag value") {
    auto o = parse_options({"--web.listen-address=127.0.0.1:1", "--web.telemetry-path", "/m",
                            "--log.level=debug", "--bpf.ringbuf-bytes=65536"});
    REQUIRE(o);
    CHECK(o->listen.port == 1);
    CHECK(o->telemetry_path == "/m");
    CHECK(o->log_level == Level::debug);
    CHECK(o->ringbuf_bytes == 65536);
}

TEST_CASE("bad flags are refused with the flag named") {
    struct Case {
        std::vector<std::string> args;
        const char* needle;
    };
    for (const auto& c : std::vector<Case>{
             {{"--nope"}, "unknown flag \"--nope\""},
             {{"--web.telemetry-path"}, "missing value"},
             {{"--web.telemetry-path=metrics"}, "--web.telemetry-path"},
             {{"--web.telemetry-path=/"}, "--web.telemetry-path"},
             {{"--web.telemetry-path=/-/ready"}, "--web.telemetry-path"},
             {{"--log.level=loud"}, "--log.level"},
             {{"--bpf.ringbuf-bytes=1000"}, "power of two"},
             {{"--bpf.ringbuf-bytes=-1"}, "--bpf.ringbuf-bytes"},
         }) {
        auto o = parse_options(c.args);
        REQUIRE_FALSE(o);
        CHECK(o.error().what.find(c.needle) != std::string::npos);
    }
}

TEST_CASE("--bpf.pin-path: an absolute directory, or empty for no pinning") {
    CHECK(parse_options({})->bpf_pin_path == "/sys/fs/bpf/traceiface");
    CHECK(parse_options({"--bpf.pin-path="})->bpf_pin_path.empty());
    CHECK(parse_options({"--bpf.pin-path=/sys/fs/bpf/x"})->bpf_pin_path == "/sys/fs/bpf/x");
    for (const char* bad : {"--bpf.pin-path=relative", "--bpf.pin-path=/"}) {
        CAPTURE(bad);
        auto o = parse_options({bad});
        REQUIRE_FALSE(o);
        CHECK(o.error().what.find("--bpf.pin-path") != std::string::npos);
    }
}

TEST_CASE("--bpf.ringbuf-flush-interval: 1ms to 10s, never 0 (unwoken events would wait)") {
    CHECK(parse_options({})->ringbuf_flush_interval_ns == 100'000'000);
    CHECK(parse_options({"--bpf.ringbuf-flush-interval=20ms"})->ringbuf_flush_interval_ns ==
          20'000'000);
    for (const char* bad : {"--bpf.ringbuf-flush-interval=0", "--bpf.ringbuf-flush-interval=500us",
                            "--bpf.ringbuf-flush-interval=11s", "--bpf.ringbuf-flush-interval=x"}) {
        CAPTURE(bad);
        auto o = parse_options({bad});
        REQUIRE_FALSE(o);
        CHECK(o.error().what.find("--bpf.ringbuf-flush-interval") != std::string::npos);
    }
}

TEST_CASE("help and version") {
    CHECK(parse_options({"--help"})->help);
    CHECK(parse_options({"-h"})->help);
    CHECK(parse_options({"--version"})->version);
    CHECK(usage().find("--web.listen-address") != std::string::npos);
}

TEST_CASE("--k8s.pod-labels and --k8s.cgroup-root") {
    auto o = parse_options({"--k8s.pod-labels=app,app.kubernetes.io/name,team"});
    REQUIRE(o);
    CHECK(o->k8s.pod_labels == std::vector<std::string>{"app", "app.kubernetes.io/name", "team"});
    CHECK(pod_label_metric_name("app.kubernetes.io/name") == "label_app_kubernetes_io_name");
    CHECK(parse_options({})->k8s.pod_labels.empty());
    CHECK(parse_options({"--k8s.pod-labels="})->k8s.pod_labels.empty());
    // Two keys that would be one metric label, and keys no pod label can have.
    auto clash = parse_options({"--k8s.pod-labels=a.b,a_b"});
    REQUIRE_FALSE(clash);
    CHECK(clash.error().what.find("label_a_b") != std::string::npos);
    for (const char* bad : {"--k8s.pod-labels=app,", "--k8s.pod-labels=a b", "--k8s.pod-labels=,"})
        CHECK_FALSE(parse_options({bad}));
    CHECK(parse_options({})->k8s.cgroup_root == "auto");
    CHECK(parse_options({"--k8s.cgroup-root="})->k8s.cgroup_root.empty());
    CHECK(parse_options({"--k8s.cgroup-root=/host/sys/fs/cgroup"})->k8s.cgroup_root ==
          "/host/sys/fs/cgroup");
    CHECK_FALSE(parse_options({"--k8s.cgroup-root=sys/fs/cgroup"}));
}

#include <doctest/doctest.h>

#include "config/options.h"

using namespace tif;

TEST_CASE("--iface.* defaults: everything but lo, 1024 interfaces, 5 minutes of grace") {
    auto o = parse_options({});
    REQUIRE(o);
    CHECK(o->iface_include == ".*");
    CHECK(o->iface_exclude == "lo");
    CHECK(o->iface_max == 1024);
    CHECK(o->iface_stale_grace_ns == 300'000'000'000ull);
}

TEST_CASE("--iface.* values") {
    auto o = parse_options({"--iface.include=^veth.*", "--iface.exclude", "", "--iface.max=3",
                            "--iface.stale-grace=2s"});
    REQUIRE(o);
    CHECK(o->iface_include == "^veth.*");
    CHECK(o->iface_exclude.empty());
    CHECK(o->iface_max == 3);
    CHECK(o->iface_stale_grace_ns == 2'000'000'000ull);
}

TEST_CASE("bad --iface.* values name the flag") {
    for (auto args : std::vector<std::vector<std::string>>{{"--iface.include=(unclosed"},
                                                           {"--iface.exclude=[z-a]"},
                                                           {"--iface.max=0"},
                                                           {"--iface.max=lots"},
                                                           {"--iface.stale-grace=5"}}) {
        CAPTURE(args[0]);
        auto o = parse_options(args);
        REQUIRE_FALSE(o);
        CHECK(o.error().what.find(args[0].substr(0, args[0].find('='))) != std::string::npos);
    }
}

TEST_CASE("--bpf.tc-attach: auto by default, tcx or clsact on request, nothing else") {
    auto o = parse_options({});
    REQUIRE(o);
    CHECK(o->tc_attach == TcAttach::auto_);
    for (auto [arg, want] : {std::pair{"--bpf.tc-attach=tcx", TcAttach::tcx},
                             std::pair{"--bpf.tc-attach=clsact", TcAttach::clsact},
                             std::pair{"--bpf.tc-attach=auto", TcAttach::auto_}}) {
        CAPTURE(arg);
        auto p = parse_options({arg});
        REQUIRE(p);
        CHECK(p->tc_attach == want);
    }
    for (const char* bad : {"--bpf.tc-attach=TCX", "--bpf.tc-attach=", "--bpf.tc-attach=ingress"}) {
        CAPTURE(bad);
        auto p = parse_options({bad});
        REQUIRE_FALSE(p);
        CHECK(p.error().what.find("--bpf.tc-attach") != std::string::npos);
        CHECK(p.error().what.find("auto, tcx, clsact") != std::string::npos);
    }
}

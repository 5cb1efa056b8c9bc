// Inputs the fuzzers (tests/fuzz) found or were written against, kept as unit tests so the
// fixes hold in the normal and the sanitized build alike. Each input is also a fuzz seed.
#include <doctest/doctest.h>

#include "config/config_file.h"
#include "config/options.h"

using namespace tif;

TEST_CASE("config: a nested key after a flat one reads each node while it lives") {
    // Reading it->second through a reference to yaml-cpp's temporary proxy was a
    // stack-use-after-scope (corpus/config_yaml/duplicate.yml).
    auto r = config_args_from_yaml("web.enable-lifecycle: true\nweb: {enable-lifecycle: false}\n",
                                   "c.yml");
    REQUIRE_FALSE(r);
    CHECK(r.error().what ==
          "c.yml:2: key \"web.enable-lifecycle\": duplicate (first set on line 1)");
    auto ok = config_args_from_yaml("web:\n  listen-address: \":1\"\n  enable-lifecycle: true\n",
                                    "c.yml");
    REQUIRE(ok);
    REQUIRE(ok->size() == 2);
    CHECK((*ok)[1].arg == "--web.enable-lifecycle=true");
    CHECK((*ok)[1].line == 3);
}

TEST_CASE("config: a stray ',' at block level is refused, not parsed forever") {
    // yaml-cpp 0.7's LoadAll yields empty documents for ever on these
    // (corpus/config_yaml/stray_comma*.yml).
    for (const char* text : {",", ",: \xda~", "\"a\"\n,\n", "a: 1\n,\n"}) {
        auto r = config_args_from_yaml(text, "c.yml");
        REQUIRE_FALSE(r);
        CHECK(r.error().what.starts_with("c.yml"));
    }
    CHECK(config_args_from_yaml("a: 1\n---\nb: 2\n", "c.yml")
              .error()
              .what.find("more than one YAML document") != std::string::npos);
    CHECK(config_args_from_yaml("span: {allow-uids: [1, 2]}\n", "c.yml"));
    CHECK(config_args_from_yaml("", "c.yml"));
}

TEST_CASE("config: a map that contains itself through an alias is refused, not recursed") {
    // "a: &x {b: *x}" is a cycle in yaml-cpp's node graph; following it overflowed the stack
    // (corpus/config_yaml/alias_cycle*.yml).
    for (const char* text : {"a: &x\n  b: *x\n", "web: &w {listen-address: \":1\", again: *w}\n"}) {
        auto r = config_args_from_yaml(text, "c.yml");
        REQUIRE_FALSE(r);
        CHECK(r.error().what.find("nested more than") != std::string::npos);
    }
    // Aliases that do not loop still work.
    auto ok = config_args_from_yaml("log.level: &l warn\nx: {y: *l}\n", "c.yml");
    REQUIRE(ok);
    REQUIRE(ok->size() == 2);
    CHECK((*ok)[1].arg == "--x.y=warn");
}

TEST_CASE("--span.socket-group: a number must be a gid") {
    // std::stoul threw on 20 digits (the daemon aborted at start-up) and 4294967296 wrapped
    // to gid 0 (corpus/flags/socket_group_overflow).
    for (const char* bad : {"99999999999999999999", "4294967296", "4294967295"}) {
        auto o = parse_options({std::string("--span.socket-group=") + bad});
        REQUIRE_FALSE(o);
        CHECK(o.error().what.find("--span.socket-group") != std::string::npos);
        CHECK(o.error().what.find(bad) != std::string::npos);
    }
    for (const char* good : {"4294967294", "0", "00000000000", "100", "wheel", ""}) {
        auto o = parse_options({std::string("--span.socket-group=") + good});
        REQUIRE(o);
        CHECK(o->span.socket_group == good);
    }
}

TEST_CASE("--iface.include/exclude: repetition counts std::regex cannot take are refused") {
    // libstdc++ 12 overflowed a long on the count (UBSan; corpus/flags/regex_count_overflow),
    // and nested counts expand into gigabytes of automaton.
    for (const char* bad : {"a{5555077700000000000}", "a{256}", "((a{255}){255}){255}",
                            "a{1,99999999999999999999}"}) {
        auto o = parse_options({std::string("--iface.include=") + bad});
        REQUIRE_FALSE(o);
        CHECK(o.error().what.find("--iface.include: repetition counts") == 0);
    }
    CHECK_FALSE(parse_options({"--iface.exclude=" + std::string(1025, 'a')}));
    CHECK_FALSE(parse_options({"--iface.exclude=(a)\\11111111111111111111"}));
    for (const char* good : {"^veth[0-9a-f]{8}$", "^eth[0-9]{1,3}$", "\\{99999\\}", ".*", ""})
        CHECK(parse_options({std::string("--iface.exclude=") + good}));
}

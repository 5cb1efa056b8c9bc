#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config/config_file.h"
#include "config/reload.h"

using namespace tif;

namespace {
std::vector<std::string> args_of(const std::string& yaml) {
    auto r = config_args_from_yaml(yaml, "c.yml");
    REQUIRE_MESSAGE(r, (r ? "" : r.error().what));
    std::vector<std::string> out;
    for (const auto& a : *r)
        out.push_back(a.arg);
    return out;
}

// The error of a whole file (mapping and checking), as the daemon reports it.
std::string error_of(const std::string& yaml) {
    auto r = config_args_from_yaml(yaml, "c.yml");
    if (!r)
        return r.error().what;
    auto st = check_config_args(*r, "c.yml");
    REQUIRE_FALSE(st);
    return st.error().what;
}

struct TempFile {
    std::string path;
    explicit TempFile(const std::string& text) {
        char tmpl[] = "/tmp/tif-config-test.XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        REQUIRE(write(fd, text.data(), text.size()) == ssize_t(text.size()));
        close(fd);
        path = tmpl;
    }
    ~TempFile() { unlink(path.c_str()); }
};
} // namespace

TEST_CASE("nested and flat keys become the flags, in file order, with their lines") {
    auto r = config_args_from_yaml("web:\n"
                                   "  listen-address: \"127.0.0.1:9999\"\n"
                                   "  telemetry-path: /m\n"
                                   "log.level: debug\n"
                                   "bpf: {ringbuf-bytes: 65536}\n",
                                   "c.yml");
    REQUIRE(r);
    REQUIRE(r->size() == 4);
    CHECK((*r)[0].arg == "--web.listen-address=127.0.0.1:9999");
    CHECK((*r)[0].key == "web.listen-address");
    CHECK((*r)[0].line == 2);
    CHECK((*r)[1].arg == "--web.telemetry-path=/m");
    CHECK((*r)[2].arg == "--log.level=debug");
    CHECK((*r)[2].line == 4);
    CHECK((*r)[3].arg == "--bpf.ringbuf-bytes=65536");
    CHECK((*r)[3].line == 5);
    CHECK(check_config_args(*r, "c.yml"));
}

TEST_CASE("lists are comma-joined; scalars keep their text; null is the empty value") {
    CHECK(args_of("span:\n  allow-uids: [1000, 1001]\n") ==
          std::vector<std::string>{"--span.allow-uids=1000,1001"});
    CHECK(args_of("span.allow-gids:\n  - 5\n  - 6\n") ==
          std::vector<std::string>{"--span.allow-gids=5,6"});
    CHECK(args_of("span.socket-mode: 0640\n") ==
          std::vector<std::string>{"--span.socket-mode=0640"}); // not YAML's octal 416
    CHECK(args_of("iface.exclude:\n") == std::vector<std::string>{"--iface.exclude="});
    CHECK(args_of("web: {enable-lifecycle: true}\n") ==
          std::vector<std::string>{"--web.enable-lifecycle=true"});
    CHECK(args_of("").empty());
    CHECK(args_of("# only a comment\n").empty());
}

TEST_CASE("every error names the file, the line and the key") {
    struct Case {
        const char* yaml;
        std::vector<const char*> needles;
    };
    for (const auto& c : std::vector<Case>{
             {"log:\n  level: debug\nweb:\n  listen-adress: \":1\"\n",
              {"c.yml:4:", "unknown key \"web.listen-adress\""}},
             {"web.listen-address: \":0\"\n", {"c.yml:1:", "key \"web.listen-address\"", "port"}},
             {"log:\n  level: loud\n", {"c.yml:2:", "key \"log.level\"", "\"loud\""}},
             {"\n\nbpf.ringbuf-bytes: 1000\n", {"c.yml:3:", "bpf.ringbuf-bytes", "power of two"}},
             {"span:\n  allow-uids: [1, x]\n", {"c.yml:2:", "span.allow-uids", "\"x\""}},
             {"log.level: debug\nlog:\n  level: info\n",
              {"c.yml:3:", "\"log.level\"", "duplicate", "line 1"}},
             {"--log.level: debug\n", {"c.yml:1:", "without the leading \"--\""}},
             {"config:\n  file: /x\n", {"c.yml:2:", "config.file", "command line"}},
             {"span.allow-uids: [[1]]\n", {"c.yml:1:", "span.allow-uids", "list items"}},
             {"help: true\n", {"c.yml:1:", "unknown key \"help\""}},
             {"web: [1, 2]\n", {"c.yml:1:", "unknown key \"web\""}},
             {"- a\n- b\n", {"c.yml:1:", "top level must be a mapping"}},
             {"log:\n  level: [debug\n", {"c.yml:", "YAML"}},
             {"web.enable-lifecycle: yes\n", {"c.yml:1:", "web.enable-lifecycle", "true or false"}},
         }) {
        CAPTURE(c.yaml);
        std::string e = error_of(c.yaml);
        for (const char* n : c.needles) {
            CAPTURE(e);
            CHECK(e.find(n) != std::string::npos);
        }
    }
}

TEST_CASE("flags win over the file; the file fills in the rest") {
    TempFile f("log.level: debug\nweb:\n  telemetry-path: /from-file\n"
               "log.event-rate: 7\n");
    auto o = load_options({"--config.file=" + f.path, "--log.level=warn"});
    REQUIRE_MESSAGE(o, (o ? "" : o.error().what));
    CHECK(o->log_level == Level::warn);
    CHECK(o->telemetry_path == "/from-file");
    CHECK(o->log_event_rate == 7);
    CHECK(o->config_file == f.path);
    CHECK(o->cli_args == std::vector<std::string>{"--config.file=" + f.path, "--log.level=warn"});
    // Without the file, the defaults.
    auto d = load_options({"--log.level=warn"});
    REQUIRE(d);
    CHECK(d->telemetry_path == "/metrics");
}

TEST_CASE("a bad file stops start-up with file, line and key; a missing file names the path") {
    TempFile f("web:\n  telemetry-path: nope\n");
    auto o = load_options({"--config.file=" + f.path});
    REQUIRE_FALSE(o);
    CHECK(o.error().what.find(f.path + ":2: key \"web.telemetry-path\"") != std::string::npos);
    auto m = load_options({"--config.file=/nonexistent/tif.yml"});
    REQUIRE_FALSE(m);
    CHECK(m.error().what.find("/nonexistent/tif.yml") != std::string::npos);
    CHECK(m.error().what.find("No such file") != std::string::npos);
}

TEST_CASE("check-config exit codes") {
    TempFile good("log.level: debug\n");
    TempFile bad("log.levle: debug\n");
    CHECK(run_check_config({good.path}) == 0);
    CHECK(run_check_config({bad.path}) == 1);
    CHECK(run_check_config({}) == 2);
}

TEST_CASE("bare boolean flag on the command line") {
    auto o = parse_options({"--web.enable-lifecycle", "--log.level=debug"});
    REQUIRE(o);
    CHECK(o->enable_lifecycle);
    CHECK(o->log_level == Level::debug);
    CHECK_FALSE(parse_options({})->enable_lifecycle);
    CHECK_FALSE(parse_options({"--web.enable-lifecycle=false"})->enable_lifecycle);
}

TEST_CASE("reload reports the keys that changed") {
    CHECK(changed_keys({"--a=1", "--b=2"}, {"--a=1", "--b=3", "--c=4"}) ==
          std::vector<std::string>{"b", "c"});
    CHECK(changed_keys({"--a=1", "--a=2"}, {"--a=2"}).empty()); // last one wins
    CHECK(changed_keys({"--a=1"}, {}) == std::vector<std::string>{"a"});
}

TEST_CASE("reload: a bad file is refused and the running options stay; hooks roll back") {
    TempFile f("log.level: debug\n");
    auto o = load_options({"--config.file=" + f.path});
    REQUIRE(o);
    std::vector<Level> seen;
    bool fail = false;
    std::vector<ReloadHook> hooks{[&](const Options& n) -> Status {
        seen.push_back(n.log_level);
        if (fail && n.log_level == Level::error)
            return Error{EINVAL, "hook refuses"};
        return Ok{};
    }};
    ConfigReloader r(*o, hooks);
    { std::ofstream(f.path) << "log.level: warn\n"; }
    CHECK(r.reload());
    CHECK(r.running().log_level == Level::warn);
    { std::ofstream(f.path) << "log.level: nope\n"; }
    CHECK_FALSE(r.reload());
    CHECK(r.running().log_level == Level::warn);
    fail = true;
    { std::ofstream(f.path) << "log.level: error\n"; }
    CHECK_FALSE(r.reload());
    CHECK(r.running().log_level == Level::warn);
    CHECK(seen == std::vector<Level>{Level::warn, Level::error, Level::warn}); // rolled back
}

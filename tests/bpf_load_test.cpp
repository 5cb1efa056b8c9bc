// Root-only: a probe the verifier refuses fails to load with the verifier's reason in our log.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bpf/bpf_load.h"
#include "bpf/bpf_raii.h"
#include "log/log.h"
#include "root_test_main.h"
#include "verifier_reject.skel.h"

TEST_CASE("a refused probe reports the verifier's reason") {
    char* buf = nullptr;
    size_t len = 0;
    FILE* mem = open_memstream(&buf, &len);
    REQUIRE(mem);
    tif::Log::set_output(mem);
    tif::Log::route_libbpf();

    tif::BpfSkeleton<verifier_reject_bpf> skel(verifier_reject_bpf::open());
    REQUIRE(skel);
    auto st = tif::load_skeleton(skel.get(), "verifier_reject");
    tif::Log::set_output(stdout);
    fclose(mem);
    std::string log(buf, len);
    free(buf);

    REQUIRE_FALSE(st);
    CHECK(st.error().message().find("load BPF object verifier_reject") != std::string::npos);
    CHECK(st.error().err == EACCES);
    // The verifier's own words, as JSON lines from libbpf.
    CHECK(log.find("\"component\":\"libbpf\"") != std::string::npos);
    CHECK(log.find("map_value_or_null") != std::string::npos);
}

int main(int argc, char** argv) {
    return run_root_tests(argc, argv);
}

// main() of the root-only doctest binaries (real BPF objects): they skip (77) when not root,
// except in CI, where BPF tests must run and a missing privilege is a failure.
#pragma once

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

inline int run_root_tests(int argc, char** argv) {
    if (geteuid() != 0) {
        if (const char* ci = std::getenv("CI"); ci && std::string(ci) == "true") {
            std::fprintf(stderr, "FAIL: BPF tests must run as root in CI\n");
            return 1;
        }
        std::fprintf(stderr, "SKIP: not root\n");
        return 77;
    }
    return doctest::Context(argc, argv).run();
}

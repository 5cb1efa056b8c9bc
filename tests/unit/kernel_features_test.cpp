#include <doctest/doctest.h>

#include "bpf/kernel_features.h"

using tif::classify_helper_probe;
using tif::HelperProbe;

// The verifier's answers below are quoted from the kernels the old-kernel test boots
// (tests/kernel/old_kernel_test.sh) and from 6.18.

TEST_CASE("a probe program that loads means the helper is there") {
    CHECK(classify_helper_probe(7, "") == HelperProbe::available);
}

TEST_CASE("the verifier's words for a helper this program type may not call") {
    // 5.10: bpf_sk_storage_get from a tp_btf program.
    CHECK(classify_helper_probe(-1,
                                "0: (79) r2 = *(u64 *)(r1 +0)\n"
                                "4: (85) call bpf_sk_storage_get#107\n"
                                "unknown func bpf_sk_storage_get#107\n") == HelperProbe::missing);
    // Newer kernels word it differently.
    CHECK(classify_helper_probe(-1, "program of this type cannot use helper "
                                    "bpf_get_socket_cookie#46\n") == HelperProbe::missing);
    CHECK(classify_helper_probe(-1, "invalid func unknown#300\n") == HelperProbe::missing);
    CHECK(classify_helper_probe(-1, "helper call is not allowed in probe\n") ==
          HelperProbe::missing);
}

TEST_CASE("refused for its dummy arguments: the helper itself was accepted") {
    // 6.18: bpf_sk_storage_get with r1 = 0 instead of a map.
    CHECK(classify_helper_probe(-1, "4: (85) call bpf_sk_storage_get#107\n"
                                    "R1 type=scalar expected=map_ptr\n") == HelperProbe::available);
}

TEST_CASE("no verifier log says nothing") {
    CHECK(classify_helper_probe(-1, "") == HelperProbe::inconclusive);
}

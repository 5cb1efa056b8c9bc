// The probes' branch-free name read (probes/ifname_words.h): every length, with what a rename
// leaves past the NUL and bytes that trip naive zero-byte tricks (0x01, 0x80, UTF-8).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "ifname_words.h"

namespace {

std::string read_name(const std::array<unsigned char, TIF_IFNAMSIZ>& raw) {
    __u64 w[2];
    std::memcpy(w, raw.data(), sizeof(w));
    char out[TIF_IFNAMSIZ];
    tif_name_words(out, w[0], w[1]);
    return std::string(out, TIF_IFNAMSIZ);
}

} // namespace

TEST_CASE("an interface name keeps the bytes before its first NUL and zeroes the rest") {
    const unsigned char fillers[] = {0x00, 0x01, 0x80, 0xff, 'x'};
    const unsigned char heads[] = {'e', 0x01, 0x80, 0xc3, 0xff};
    for (size_t len = 0; len < TIF_IFNAMSIZ; ++len)
        for (unsigned char head : heads)
            for (unsigned char fill : fillers) {
                std::array<unsigned char, TIF_IFNAMSIZ> raw{};
                for (size_t i = 0; i < len; ++i)
                    raw[i] = i == 0 ? head : static_cast<unsigned char>('a' + i);
                raw[len] = 0;
                for (size_t i = len + 1; i < TIF_IFNAMSIZ; ++i)
                    raw[i] = fill;
                std::string want(reinterpret_cast<const char*>(raw.data()), len);
                want.resize(TIF_IFNAMSIZ, '\0');
                CAPTURE(len);
                CAPTURE(int(head));
                CAPTURE(int(fill));
                CHECK(read_name(raw) == want);
            }
}

TEST_CASE("a renamed interface reads as its new name only") {
    std::array<unsigned char, TIF_IFNAMSIZ> raw{};
    std::memcpy(raw.data(), "verylongname012", 15); // the old name
    std::memcpy(raw.data(), "eth1", 5);             // strscpy of the new one: no padding
    CHECK(read_name(raw) == std::string("eth1") + std::string(TIF_IFNAMSIZ - 4, '\0'));
}

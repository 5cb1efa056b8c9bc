// libFuzzer target for the YAML config file (exporter/config_file.cpp): arbitrary bytes as the
// file's text, mapped to flags and checked as the daemon and check-config do. No input may
// crash, hang or leak, and what the mapper accepts must keep its promises (config_file.h).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "config/config_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto args = tif::config_args_from_yaml(text, "fuzz.yml");
    if (!args) {
        // Every refusal names the file, so an operator can find it.
        if (!args.error().what.starts_with("fuzz.yml"))
            std::abort();
        return 0;
    }
    std::set<std::string> keys;
    for (const auto& a : *args) {
        if (a.key.empty() || a.key == "config.file" || a.line < 1)
            std::abort();
        if (!a.arg.starts_with("--" + a.key + "="))
            std::abort();
        if (!keys.insert(a.key).second) // duplicates are refused, never passed on
            std::abort();
    }
    auto st = tif::check_config_args(*args, "fuzz.yml");
    if (!st && !st.error().what.starts_with("fuzz.yml:"))
        std::abort();
    return 0;
}

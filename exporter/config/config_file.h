// The YAML config file (--config.file). It cannot drift from the flags because it *is* the
// flags: every key is a flag name without the leading "--", nested by its dots or written flat
//
//     web:
//       listen-address: ":9742"      # == --web.listen-address=:9742
//     log.level: debug               # == --log.level=debug
//     span: {allow-uids: [1000, 1001]}  # lists are comma-joined: --span.allow-uids=1000,1001
//
// and each leaf becomes one "--key=value" argument that goes through the same parse_options()
// as the command line. The file's arguments come first, the command line's after them, so
// flags win. Every error names the file, the line and the key.
#pragma once

#include <string>
#include <vector>

#include "config/options.h"
#include "core/result.h"

namespace tif {

// One leaf of the file, as the argument it stands for.
struct ConfigArg {
    std::string key; // "web.listen-address"
    std::string arg; // "--web.listen-address=:9742"
    int line = 0;    // 1-based line of the key in the file
};

// YAML text -> arguments, in file order. Refuses YAML syntax errors, non-string keys,
// duplicate keys (also "a: {b: 1}" next to "a.b: 2"), nested lists and maps inside lists,
// and config.file itself. `file` only goes into the error messages.
Result<std::vector<ConfigArg>> config_args_from_yaml(const std::string& text,
                                                     const std::string& file);

// Runs each argument through parse_options() on its own, so an unknown key or a bad value is
// reported as "FILE:LINE: key \"KEY\": ...".
Status check_config_args(const std::vector<ConfigArg>& args, const std::string& file);

// Reads, maps and checks a file.
Result<std::vector<ConfigArg>> read_config_file(const std::string& path);

// The options in effect and the arguments they were parsed from (the file's, then `cli`).
struct LoadedConfig {
    Options opt;
    std::vector<std::string> args;
};

// The command line, with the file named by its --config.file (if any) underneath it.
// opt.cli_args is set to `cli`, so a reload can do the same again.
Result<LoadedConfig> load_config(const std::vector<std::string>& cli);
Result<Options> load_options(const std::vector<std::string>& cli);

// `traceiface check-config FILE`: prints what is wrong (stderr) or a summary (stdout).
// Returns the exit code: 0 valid, 1 invalid, 2 usage.
int run_check_config(const std::vector<std::string>& args);

} // namespace tif

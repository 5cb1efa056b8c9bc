#include "config/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>

// GCC 12 false positives inside yaml-cpp 0.7's iterator (Debian 12), not in our code.
#pragma GCC diagnostic push
#if !defined(__clang__) // the fuzzers build this with clang, which knows neither group
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop

namespace tif {

namespace {
constexpr size_t MAX_FILE_BYTES = 1 << 20;
constexpr int MAX_KEY_DEPTH = 16;

std::string where(const std::string& file, int line) {
    return file + ":" + std::to_string(line) + ": ";
}

class Mapper {
  public:
    explicit Mapper(const std::string& file) : file_(file) {}

    Status map(const YAML::Node& n, const std::string& prefix, int depth = 0) {
        // Flag names have a few dots; an alias can make a map contain itself ("a: &x {b: *x}"),
        // which yaml-cpp builds as a cycle that would recurse until the stack overflows
        // (found by fuzzing).
        if (depth > MAX_KEY_DEPTH)
            return Error{EINVAL, where(file_, n.Mark().line + 1) + "key \"" + prefix +
                                     "\": nested more than " + std::to_string(MAX_KEY_DEPTH) +
                                     " levels deep (or through an alias to itself)"};
        for (auto it = n.begin(); it != n.end(); ++it) {
            // Copies, not references: yaml-cpp's operator-> returns a temporary proxy, so a
            // reference to it->second dangles at the end of the statement (found by fuzzing).
            const YAML::Node name = it->first;
            const YAML::Node v = it->second;
            const int line = name.Mark().line + 1;
            if (!name.IsScalar())
                return Error{EINVAL, where(file_, line) + "keys must be plain strings"};
            const std::string k = name.Scalar();
            if (auto st = check_key_part(k, prefix, line); !st)
                return st;
            const std::string key = prefix.empty() ? k : prefix + "." + k;
            if (v.IsMap()) {
                if (auto st = map(v, key, depth + 1); !st)
                    return st;
                continue;
            }
            auto value = leaf_value(v, key, line);
            if (!value)
                return value.error();
            if (auto st = add(key, *value, line); !st)
                return st;
        }
        return Ok{};
    }

    std::vector<ConfigArg> take() { return std::move(args_); }

  private:
    Status check_key_part(const std::string& k, const std::string& prefix, int line) {
        const std::string shown = prefix.empty() ? k : prefix + "." + k;
        if (k.starts_with("-"))
            return Error{EINVAL, where(file_, line) + "key \"" + shown +
                                     "\": write flag names without the leading \"--\""};
        if (k.empty() || k.find_first_of("= \t") != std::string::npos || k.front() == '.' ||
            k.back() == '.' || k.find("..") != std::string::npos)
            return Error{EINVAL, where(file_, line) + "key \"" + shown + "\": not a flag name"};
        return Ok{};
    }

    Result<std::string> leaf_value(const YAML::Node& v, const std::string& key, int line) {
        if (v.IsNull())
            return std::string(); // "key:" with nothing = the empty value, like --key=
        if (v.IsScalar())
            return v.Scalar();
        if (!v.IsSequence())
            return Error{EINVAL, where(file_, line) + "key \"" + key + "\": unsupported value"};
        std::string joined;
        for (const auto& e : v) {
            if (!e.IsScalar())
                return Error{EINVAL, where(file_, e.Mark().line + 1) + "key \"" + key +
                                         "\": list items must be plain values"};
            if (e.Scalar().find(',') != std::string::npos)
                return Error{EINVAL, where(file_, e.Mark().line + 1) + "key \"" + key +
                                         "\": a list item cannot contain ','"};
            joined += (joined.empty() ? "" : ",") + e.Scalar();
        }
        return joined;
    }

    Status add(const std::string& key, const std::string& value, int line) {
        if (key == "config.file")
            return Error{EINVAL, where(file_, line) +
                                     "key \"config.file\": only allowed on the command line"};
        auto [it, fresh] = seen_.emplace(key, line);
        if (!fresh)
            return Error{EINVAL, where(file_, line) + "key \"" + key +
                                     "\": duplicate (first set on line " +
                                     std::to_string(it->second) + ")"};
        args_.push_back({key, "--" + key + "=" + value, line});
        return Ok{};
    }

    const std::string& file_;
    std::map<std::string, int> seen_;
    std::vector<ConfigArg> args_;
};

// Parse events we do not need: the first pass only counts documents.
class NoEvents : public YAML::EventHandler {
  public:
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

// OS errors spelled out in `what`: callers print `what`, as they do for flag errors.
Error file_error(int err, const std::string& what) {
    return Error{err, what + ": " + std::strerror(err)};
}

Result<std::string> read_small_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return file_error(errno, "open config file " + path);
    struct stat st {};
    std::string text;
    Error err{};
    if (::fstat(fd, &st) != 0)
        err = file_error(errno, "stat config file " + path);
    else if (!S_ISREG(st.st_mode))
        err = Error{EINVAL, "config file " + path + ": not a regular file"};
    else if (size_t(st.st_size) > MAX_FILE_BYTES)
        err = Error{EFBIG, "config file " + path + ": larger than 1 MiB"};
    char buf[8192];
    while (err.what.empty()) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            err = file_error(errno, "read config file " + path);
        if (n <= 0)
            break;
        text.append(buf, size_t(n));
    }
    ::close(fd);
    if (!err.what.empty())
        return err;
    return text;
}
} // namespace

Result<std::vector<ConfigArg>> config_args_from_yaml(const std::string& text,
                                                     const std::string& file) {
    std::vector<YAML::Node> docs;
    try {
        // Count documents before building any, and stop at two: yaml-cpp 0.7 never consumes
        // a stray ',' at block level, so YAML::LoadAll(",") yields empty documents forever,
        // allocating until the process dies (found by fuzzing).
        std::istringstream in(text);
        YAML::Parser parser(in);
        NoEvents none;
        int n = 0;
        while (n < 2 && parser.HandleNextDocument(none))
            ++n;
        if (n > 1)
            return Error{EINVAL, file + ": more than one YAML document (a \"---\" line, or a stray "
                                        "',' outside [] and {}); expected one"};
        if (n == 1)
            docs.push_back(YAML::Load(text));
    } catch (const YAML::Exception& e) {
        return Error{EINVAL, file + ":" + std::to_string(e.mark.line + 1) + ":" +
                                 std::to_string(e.mark.column + 1) + ": YAML: " + e.msg};
    }
    if (docs.empty() || docs[0].IsNull())
        return std::vector<ConfigArg>{}; // an empty file sets nothing
    if (!docs[0].IsMap())
        return Error{EINVAL, where(file, docs[0].Mark().line + 1) +
                                 "the top level must be a mapping of flag names to values"};
    Mapper m(file);
    if (auto st = m.map(docs[0], ""); !st)
        return st.error();
    return m.take();
}

Status check_config_args(const std::vector<ConfigArg>& args, const std::string& file) {
    for (const auto& a : args) {
        auto o = parse_options({a.arg});
        if (o)
            continue;
        const std::string& what = o.error().what;
        if (what.starts_with("unknown flag"))
            return Error{EINVAL, where(file, a.line) + "unknown key \"" + a.key +
                                     "\" (keys are the flags without the leading \"--\"; see "
                                     "traceiface --help)"};
        return Error{EINVAL, where(file, a.line) + "key \"" + a.key + "\": " + what};
    }
    return Ok{};
}

Result<std::vector<ConfigArg>> read_config_file(const std::string& path) {
    auto text = read_small_file(path);
    if (!text)
        return text.error();
    auto args = config_args_from_yaml(*text, path);
    if (!args)
        return args.error();
    if (auto st = check_config_args(*args, path); !st)
        return st.error();
    return args;
}

Result<LoadedConfig> load_config(const std::vector<std::string>& cli) {
    auto c = parse_options(cli);
    if (!c)
        return c.error();
    LoadedConfig out{*c, {}};
    if (!c->help && !c->version && !c->config_file.empty()) {
        auto file = read_config_file(c->config_file);
        if (!file)
            return file.error();
        for (const auto& a : *file)
            out.args.push_back(a.arg);
    }
    out.args.insert(out.args.end(), cli.begin(), cli.end()); // after the file's: flags win
    auto o = parse_options(out.args);
    if (!o) // each part parsed alone, so this is a combination the file and the flags make
        return Error{EINVAL, c->config_file + " with the command line: " + o.error().what};
    out.opt = std::move(*o);
    out.opt.cli_args = cli;
    return out;
}

Result<Options> load_options(const std::vector<std::string>& cli) {
    auto l = load_config(cli);
    if (!l)
        return l.error();
    return std::move(l->opt);
}

int run_check_config(const std::vector<std::string>& args) {
    if (args.size() != 1 || args[0].starts_with("-")) {
        std::fputs("usage: traceiface check-config FILE\n", stderr);
        return 2;
    }
    auto l = load_config({"--config.file=" + args[0]});
    if (!l) {
        std::fprintf(stderr, "traceiface: check-config: %s\n", l.error().what.c_str());
        return 1;
    }
    std::printf("%s: OK (%zu settings)\n", args[0].c_str(), l->args.size() - 1);
    return 0;
}

} // namespace tif

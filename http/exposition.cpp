#include "exposition.h"

#include <bit>
#include <charconv>
#include <cmath>

namespace tif {

namespace {
// Appends the run of characters that need no escaping in one go; most values have none.
template <typename NeedsEscape>
void append_escaped_if(std::string& out, std::string_view s, NeedsEscape needs) {
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (!needs(c))
            continue;
        out.append(s.data() + start, i - start);
        out += '\\';
        out += c == '\n' ? 'n' : c;
        start = i + 1;
    }
    out.append(s.data() + start, s.size() - start);
}

bool special(std::string& out, double v) {
    if (std::isnan(v)) {
        out += "NaN";
        return true;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return true;
    }
    return false;
}

// Integral doubles below 2^53 are exact integers, and printf "%.16g" writes every integer
// below 10^16 > 2^53 in plain digits: the common case (counters, bucket bounds) without the
// general float formatting.
constexpr double EXACT_INT_LIMIT = 9007199254740992.0; // 2^53
} // namespace

void append_escaped(std::string& out, std::string_view s) {
    append_escaped_if(out, s, [](char c) { return c == '\\' || c == '"' || c == '\n'; });
}

void append_escaped_help(std::string& out, std::string_view s) {
    append_escaped_if(out, s, [](char c) { return c == '\\' || c == '\n'; });
}

void append_uint(std::string& out, uint64_t v) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, p);
}

void append_int(std::string& out, int64_t v) {
    char buf[24];
    auto [p, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, p);
}

void append_text_number(std::string& out, double v) {
    if (special(out, v))
        return;
    if (std::fabs(v) < EXACT_INT_LIMIT && v == std::trunc(v)) {
        if (v == 0 && std::signbit(v)) // "%.16g" keeps the sign of -0
            out += '-';
        append_int(out, int64_t(v));
        return;
    }
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 16);
    double back = 0;
    std::from_chars(buf, r.ptr, back);
    if (back != v) // 17 significant digits always round-trip
        r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::general, 17);
    out.append(buf, r.ptr);
}

void append_shortest_number(std::string& out, double v) {
    if (special(out, v))
        return;
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out.append(buf, r.ptr);
}

const std::vector<std::string>&
BucketLabels::of(const std::vector<prometheus::ClientMetric::Bucket>& b) {
    bool same = b.size() == bounds_.size();
    for (size_t i = 0; same && i < b.size(); ++i) // bitwise: -0 and 0 print differently
        same = std::bit_cast<uint64_t>(b[i].upper_bound) == std::bit_cast<uint64_t>(bounds_[i]);
    if (same)
        return le_;
    bounds_.clear();
    le_.clear();
    for (const auto& x : b) {
        bounds_.push_back(x.upper_bound);
        std::string s = "le=\"";
        format_(s, x.upper_bound);
        s += '"';
        le_.push_back(std::move(s));
    }
    return le_;
}

void append_series_head(std::string& out, std::string_view name, std::string_view suffix,
                        std::string_view labels, std::string_view extra) {
    out += name;
    out += suffix;
    if (!labels.empty() || !extra.empty()) {
        out += '{';
        out += labels;
        if (!labels.empty() && !extra.empty())
            out += ',';
        out += extra;
        out += '}';
    }
    out += ' ';
}

} // namespace tif

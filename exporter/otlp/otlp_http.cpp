#include "otlp/otlp_http.h"

#include <httplib.h>

#include <algorithm>

#include "version.h"

namespace tif {

namespace {
constexpr auto CONNECT_TIMEOUT = std::chrono::seconds(5);
constexpr size_t ERROR_BODY_CHARS = 200;
} // namespace

OtlpPostResult otlp_post(const OtlpOptions& cfg, std::string_view signal_path,
                         const std::string& body, std::chrono::seconds timeout) {
    const auto t0 = std::chrono::steady_clock::now();
    OtlpPostResult r;
    auto target = parse_otlp_endpoint(cfg.endpoint, signal_path);
    if (!target) {
        r.why = target.error().what;
        return r;
    }
    httplib::Client cli(target->scheme_host_port);
    cli.set_connection_timeout(std::min<std::chrono::seconds>(timeout, CONNECT_TIMEOUT));
    cli.set_read_timeout(timeout);
    cli.set_write_timeout(timeout);
    httplib::Headers headers;
    for (const auto& [k, v] : cfg.headers)
        headers.emplace(k, v);
    if (!headers.contains("User-Agent")) // OTLP asks exporters to name themselves
        headers.emplace("User-Agent", "traceiface/" TRACEIFACE_VERSION);
    auto res = cli.Post(target->path, headers, body, "application/x-protobuf");
    r.took = std::chrono::steady_clock::now() - t0;
    if (!res)
        r.why = httplib::to_string(res.error());
    else if (res->status / 100 != 2)
        r.why =
            "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, ERROR_BODY_CHARS);
    else {
        r.ok = true;
        r.answer = std::move(res->body);
    }
    return r;
}

bool OtlpFailureLogGate::failed() {
    const auto now = std::chrono::steady_clock::now();
    if (++in_a_row == 1 || now - last_log >= every) {
        last_log = now;
        return true;
    }
    return false;
}

bool OtlpFailureLogGate::succeeded() {
    const bool recovered = in_a_row > 0;
    in_a_row = 0;
    return recovered;
}

} // namespace tif

#include "http_server.h"

#include <httplib.h>

#include "landing_page.h"
#include "log.h"
#include "version.h"

namespace tif {

namespace {
constexpr const char* TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8";
constexpr size_t MAX_BODY_BYTES = 64 * 1024; // we take no bodies; refuse big ones early
constexpr int HTTP_THREADS = 4;
} // namespace

HttpServer::HttpServer(Options opt, const MetricsRegistry& registry, std::function<bool()> ready)
    : opt_(std::move(opt)), registry_(registry), ready_(std::move(ready)),
      srv_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() {
    stop();
}

void HttpServer::routes() {
    srv_->Get(opt_.telemetry_path, [this](const httplib::Request& req, httplib::Response& res) {
        // OpenMetrics (with exemplars) only for a scraper that asks for it.
        if (accepts_openmetrics(req.get_header_value("Accept")))
            res.set_content(registry_.render_openmetrics(), OPENMETRICS_CONTENT_TYPE);
        else
            res.set_content(registry_.render_text(), TEXT_FORMAT);
    });
    srv_->Get("/-/healthy", [](const httplib::Request&, httplib::Response& res) {
        res.set_content("Healthy.\n", "text/plain");
    });
    srv_->Get("/-/ready", [this](const httplib::Request&, httplib::Response& res) {
        bool ok = ready_ && ready_();
        res.status = ok ? 200 : 503;
        res.set_content(ok ? "Ready.\n" : "Not ready: probes are not attached yet.\n",
                        "text/plain");
    });
    lifecycle_routes();
    srv_->Get("/", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(render_landing_page(registry_.Collect(), opt_.telemetry_path),
                        "text/html; charset=utf-8");
    });
}

// Prometheus's lifecycle API: POST (or PUT) /-/reload, only with --web.enable-lifecycle.
void HttpServer::lifecycle_routes() {
    auto reload = [this](const httplib::Request&, httplib::Response& res) {
        if (!opt_.enable_lifecycle || !opt_.reload) {
            res.status = 403;
            res.set_content("Lifecycle API is not enabled (start with --web.enable-lifecycle).\n",
                            "text/plain");
            return;
        }
        Status st = opt_.reload();
        res.status = st ? 200 : 500;
        res.set_content(st ? "Config reloaded.\n"
                           : "Reload failed; the running config stays: " + st.error().what + "\n",
                        "text/plain");
    };
    // With a ContentReader the body is never read: `curl -X POST` sends no Content-Length,
    // and reading "until the peer closes" would hang until the read timeout and answer 400.
    auto no_body = [reload](const httplib::Request& req, httplib::Response& res,
                            const httplib::ContentReader&) { reload(req, res); };
    srv_->Post("/-/reload", no_body);
    srv_->Put("/-/reload", no_body);
    srv_->Get("/-/reload", [](const httplib::Request&, httplib::Response& res) {
        res.status = 405;
        res.set_header("Allow", "POST, PUT");
        res.set_content("Only POST or PUT requests allowed.\n", "text/plain");
    });
}

Status HttpServer::start() {
    routes();
    srv_->new_task_queue = [] { return new httplib::ThreadPool(HTTP_THREADS); };
    srv_->set_payload_max_length(MAX_BODY_BYTES);
    srv_->set_read_timeout(5, 0);
    srv_->set_write_timeout(10, 0);
    srv_->set_keep_alive_max_count(100);
    // An empty host means every address: "::" accepts IPv4 too (IPV6_V6ONLY stays off).
    std::string host = opt_.listen.host.empty() ? "::" : opt_.listen.host;
    if (!srv_->bind_to_port(host, opt_.listen.port))
        return os_error(errno ? errno : EADDRINUSE,
                        "listen on " + host + ":" + std::to_string(opt_.listen.port));
    port_ = opt_.listen.port;
    thread_ = std::thread([this] { srv_->listen_after_bind(); });
    Log::msg(Level::info, "listening",
             Fields{{"address", host}, {"port", port_}, {"telemetry_path", opt_.telemetry_path}});
    return Ok{};
}

void HttpServer::stop() {
    if (srv_)
        srv_->stop();
    if (thread_.joinable())
        thread_.join();
}

} // namespace tif

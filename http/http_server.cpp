#include "http_server.h"

#include <httplib.h>
#include <malloc.h>

#include "landing_page.h"
#include "log/log.h"
#include "text_format.h"
#include "version.h"

namespace tif {

namespace {
constexpr size_t MAX_BODY_BYTES = 64 * 1024; // we take no bodies; refuse big ones early
constexpr int HTTP_THREADS = 4;

// A scrape at 1,000 interfaces allocates ~9 MB (families, body) and frees it all. By default
// glibc then keeps it: freeing a big mmap'ed block raises the mmap threshold to its size, so
// the next body comes from the heap, and each HTTP thread has its own arena that keeps its
// free top up to twice that threshold -- RSS ends up near threads x scrape size. Fixed
// thresholds keep big blocks mmap'ed (returned on free) and trim what a scrape left in the
// heaps; two arenas are plenty for four HTTP threads that mostly wait.
// httplib compresses a text body with brotli whenever Accept-Encoding names "br" (curl
// --compressed and browsers do), at brotli's default quality 11: measured here, 5 s of CPU and
// +40 MB of RSS for the 3 MB body of 1,000 interfaces. Prometheus asks for gzip only, which
// costs a few ms. So "br" is taken out of what the client accepts; gzip (or nothing) remains.
// The Request is httplib's own non-const object, handed to handlers by const reference; it
// reads Accept-Encoding again after the handler, to choose the compression.
void no_brotli(const httplib::Request& req) {
    auto it = req.headers.find("Accept-Encoding");
    if (it == req.headers.end() || it->second.find("br") == std::string::npos)
        return;
    const bool gzip = it->second.find("gzip") != std::string::npos;
    auto& headers = const_cast<httplib::Request&>(req).headers;
    headers.erase("Accept-Encoding");
    if (gzip)
        headers.emplace("Accept-Encoding", "gzip");
}

void keep_scrape_memory_transient() {
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
}
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
        no_brotli(req);
        const bool om = accepts_openmetrics(req.get_header_value("Accept"));
        // Moved in, not set_content: that copies, and at 1,000 interfaces the body is 3 MB.
        res.body = om ? registry_.render_openmetrics() : registry_.render_text();
        res.set_header("Content-Type", om ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE);
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
    srv_->Get("/", [this](const httplib::Request& req, httplib::Response& res) {
        no_brotli(req);
        res.set_content(render_landing_page(registry_.Collect(), opt_.telemetry_path),
                        "text/html; charset=utf-8");
    });
    install_http_limits(*srv_, requests_); // last: its catch-all routes must come after
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
    keep_scrape_memory_transient();
    routes();
    srv_->new_task_queue = [] { return new httplib::ThreadPool(HTTP_THREADS); };
    srv_->set_payload_max_length(MAX_BODY_BYTES);
    srv_->set_read_timeout(5, 0);
    srv_->set_write_timeout(10, 0);
    srv_->set_keep_alive_max_count(100);
    // A response goes out as headers then body: with Nagle the body waits for the client's
    // delayed ACK of the headers, ~40 ms on every scrape over a kept-alive connection (what
    // Prometheus does; measured 44 ms vs 1-2 ms on a new connection, bench/k8s_churn_bench.sh).
    srv_->set_tcp_nodelay(true);
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

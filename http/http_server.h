// The HTTP face of the exporter (cpp-httplib): the metrics path, /-/healthy, /-/ready, a
// landing page and POST /-/reload. It binds synchronously so a taken port fails start-up with a
// clear error, then serves from its own small thread pool, off the io_context.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "config/options.h"
#include "core/result.h"
#include "http_limits.h"
#include "metrics_registry.h"

namespace httplib {
class Server;
}

namespace tif {

class HttpServer {
  public:
    struct Options {
        ListenAddress listen;
        std::string telemetry_path = "/metrics";
        bool enable_lifecycle = false;  // POST /-/reload (else 403)
        std::function<Status()> reload; // blocks until the reload is done
    };

    HttpServer(Options opt, const MetricsRegistry& registry, std::function<bool()> ready);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    Status start();
    void stop();
    uint16_t port() const { return port_; }
    // traceiface_http_requests_total{code}, for the registry.
    std::unique_ptr<Collector> request_collector() const { return requests_.collector(); }

  private:
    void routes();
    void lifecycle_routes();

    Options opt_;
    const MetricsRegistry& registry_;
    std::function<bool()> ready_;
    std::unique_ptr<httplib::Server> srv_;
    std::thread thread_;
    uint16_t port_ = 0;
    HttpRequestCounter requests_;
};

} // namespace tif

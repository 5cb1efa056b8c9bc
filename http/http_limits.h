// What the HTTP face refuses, and the count of every answer it gives. cpp-httplib bounds the
// request line (8 KiB, else 414), each header line (8 KiB, else 400) and, with
// set_payload_max_length, the body (413); this adds a cap on the number of headers (431),
// 405 for methods no route takes, and traceiface_http_requests_total{code}, which also counts
// the 4xx that cpp-httplib sends before any route runs.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "metrics_registry.h"

namespace httplib {
class Server;
}

namespace tif {

inline constexpr size_t HTTP_MAX_HEADERS = 100;

class HttpRequestCounter {
  public:
    HttpRequestCounter() : s_(std::make_shared<State>()) {}
    void count(int status);
    // traceiface_http_requests_total{code}; shares the counts, may outlive the server.
    std::unique_ptr<Collector> collector() const;

  private:
    struct State {
        std::mutex mu;
        std::map<int, uint64_t> by_code;
    };
    std::shared_ptr<State> s_;
};

// After every route is registered: 405 for POST/PUT elsewhere and for DELETE/PATCH/OPTIONS
// anywhere, the header-count cap, and the counting logger.
void install_http_limits(httplib::Server& srv, HttpRequestCounter& counter);

} // namespace tif

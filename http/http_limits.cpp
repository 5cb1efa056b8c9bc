#include "http_limits.h"

#include <httplib.h>

#include <string>

namespace tif {

namespace {
class RequestCollector : public Collector {
  public:
    using Counts = std::function<std::map<int, uint64_t>()>;
    explicit RequestCollector(Counts counts) : counts_(std::move(counts)) {}
    std::string_view name() const override { return "http"; }
    Status collect(std::vector<prometheus::MetricFamily>& out) override {
        auto f = make_family("traceiface_http_requests_total",
                             "HTTP requests answered, by status code (4xx include requests "
                             "refused for their size, method or header count).",
                             prometheus::MetricType::Counter);
        for (const auto& [code, n] : counts_())
            add_sample(f, {{"code", std::to_string(code)}}, double(n));
        out.push_back(std::move(f));
        return Ok{};
    }

  private:
    Counts counts_;
};

void not_allowed(const httplib::Request& req, httplib::Response& res) {
    res.status = 405;
    res.set_header("Allow", req.path == "/-/reload" ? "POST, PUT" : "GET, HEAD");
    res.set_content("Method not allowed.\n", "text/plain");
}
} // namespace

void HttpRequestCounter::count(int status) {
    std::lock_guard lk(s_->mu);
    ++s_->by_code[status];
}

std::unique_ptr<Collector> HttpRequestCounter::collector() const {
    return std::make_unique<RequestCollector>([s = s_] {
        std::lock_guard lk(s->mu);
        return s->by_code;
    });
}

void install_http_limits(httplib::Server& srv, HttpRequestCounter& counter) {
    // Matched after the real routes (cpp-httplib tries them in order), so only leftovers.
    srv.Post(".*", not_allowed);
    srv.Put(".*", not_allowed);
    srv.Delete(".*", not_allowed);
    srv.Patch(".*", not_allowed);
    srv.Options(".*", not_allowed);
    // cpp-httplib bounds each header line but not their number.
    srv.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
        if (req.headers.size() <= HTTP_MAX_HEADERS)
            return httplib::Server::HandlerResponse::Unhandled;
        res.status = 431;
        res.set_content("Too many header fields.\n", "text/plain");
        return httplib::Server::HandlerResponse::Handled;
    });
    srv.set_logger([&counter](const httplib::Request&, const httplib::Response& res) {
        counter.count(res.status);
    });
}

} // namespace tif

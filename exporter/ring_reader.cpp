#include "ring_reader.h"

#include <unistd.h>

#include <boost/asio/post.hpp>

#include "log.h"

namespace tif {

namespace asio = boost::asio;

RingReader::RingReader(asio::io_context& io, std::string name, Handler h, BatchDone b)
    : name_(std::move(name)), on_record_(std::move(h)), on_batch_done_(std::move(b)),
      strand_(asio::make_strand(io)), epoll_(strand_), timer_(strand_) {}

Result<std::unique_ptr<RingReader>> RingReader::create(asio::io_context& io, std::string name,
                                                       int map_fd, Handler on_record,
                                                       BatchDone on_batch_done) {
    std::unique_ptr<RingReader> r(
        new RingReader(io, std::move(name), std::move(on_record), std::move(on_batch_done)));
    ring_buffer* rb = ring_buffer__new(map_fd, &RingReader::on_sample, r.get(), nullptr);
    if (!rb)
        return os_error(errno, "ring_buffer__new for " + r->name_);
    r->rb_ = RingBufferOwner(rb);
    // The descriptor closes what it owns; libbpf closes its own epoll fd, so give asio a dup.
    int fd = ::dup(ring_buffer__epoll_fd(rb));
    if (fd < 0)
        return os_error(errno, "dup ring-buffer epoll fd for " + r->name_);
    r->epoll_.assign(fd);
    return r;
}

int RingReader::on_sample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingReader*>(ctx);
    self->on_record_(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
    self->consumed_.fetch_add(1, std::memory_order_relaxed);
    return 0;
}

void RingReader::start() {
    asio::post(strand_, [this] {
        do_wait();
        do_timer();
    });
}

void RingReader::stop() {
    asio::post(strand_, [this] {
        stopped_ = true;
        boost::system::error_code ec;
        epoll_.cancel(ec);
        timer_.cancel();
    });
}

void RingReader::drain() {
    int n = ring_buffer__consume(rb_.get());
    if (n < 0) {
        consume_errors_.fetch_add(1, std::memory_order_relaxed);
        Log::msg(Level::warn, "ring buffer consume failed",
                 Fields{{"ringbuf", name_}, {"errno", -n}});
    }
    if (n != 0 && on_batch_done_)
        on_batch_done_();
}

void RingReader::do_wait() {
    epoll_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) {
                          if (ec || stopped_)
                              return;
                          drain();
                          do_wait();
                      });
}

void RingReader::do_timer() {
    timer_.expires_after(safety_period_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_)
            return;
        drain();
        do_timer();
    });
}

} // namespace tif

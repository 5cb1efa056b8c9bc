#include "bpf/ring_reader.h"

#include <unistd.h>

#include <cerrno>

#include <boost/asio/post.hpp>

#include "log/log.h"

namespace tif {

namespace asio = boost::asio;

RingReader::RingReader(asio::io_context& io, std::string name, Handler h, BatchDone b,
                       std::chrono::nanoseconds flush_interval)
    : name_(std::move(name)), on_record_(std::move(h)), on_batch_done_(std::move(b)),
      strand_(asio::make_strand(io)), epoll_(strand_), timer_(strand_),
      flush_interval_(flush_interval) {}

Result<std::unique_ptr<RingReader>> RingReader::create(asio::io_context& io, std::string name,
                                                       int map_fd, Handler on_record,
                                                       BatchDone on_batch_done,
                                                       std::chrono::nanoseconds flush_interval) {
    if (flush_interval <= std::chrono::nanoseconds::zero())
        return Error{EINVAL, "ring buffer " + name + ": the flush interval must be positive"};
    std::unique_ptr<RingReader> r(new RingReader(io, std::move(name), std::move(on_record),
                                                 std::move(on_batch_done), flush_interval));
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

namespace {
// What on_sample returns when the turn's budget is spent: ring_buffer__consume() stops after
// that record (already consumed) and hands the code back. libbpf itself never returns it.
constexpr int TURN_OVER = -EINPROGRESS;
} // namespace

int RingReader::on_sample(void* ctx, void* data, size_t size) {
    auto* self = static_cast<RingReader*>(ctx);
    self->on_record_(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
    // Only this strand writes the counter: a plain store, not a locked read-modify-write.
    self->consumed_.store(self->consumed_.load(std::memory_order_relaxed) + 1,
                          std::memory_order_relaxed);
    return --self->budget_ == 0 ? TURN_OVER : 0;
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

bool RingReader::drain_turn() {
    budget_ = RECORDS_PER_TURN;
    int n = ring_buffer__consume(rb_.get());
    const bool more = n == TURN_OVER;
    if (n < 0 && !more) {
        consume_errors_.fetch_add(1, std::memory_order_relaxed);
        Log::msg(Level::warn, "ring buffer consume failed",
                 Fields{{"ringbuf", name_}, {"errno", -n}});
    }
    if (budget_ != RECORDS_PER_TURN && on_batch_done_)
        on_batch_done_();
    return more;
}

void RingReader::drain() {
    while (drain_turn()) {
    }
}

// One turn, and if records are left, another turn queued behind whatever else is ready.
void RingReader::consume_turn() {
    if (!drain_turn() || turn_posted_)
        return;
    turn_posted_ = true;
    asio::post(strand_, [this] {
        turn_posted_ = false;
        if (!stopped_)
            consume_turn();
    });
}

void RingReader::do_wait() {
    epoll_.async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](const boost::system::error_code& ec) {
                          if (ec || stopped_)
                              return;
                          consume_turn();
                          do_wait();
                      });
}

void RingReader::do_timer() {
    timer_.expires_after(flush_interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_)
            return;
        consume_turn();
        do_timer();
    });
}

} // namespace tif

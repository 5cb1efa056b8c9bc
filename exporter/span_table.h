// The span-binding table shared with the probes: an LRU hash (socket cookie -> binding)
// created by the daemon before any probe loads. User space writes bindings and sweeps expired
// ones; the probes read them (ignoring expired entries) and delete a socket's binding when it
// closes.
#pragma once

#include <cstdint>

#include "bpf_raii.h"
#include "result.h"
#include "span_binding.h"
#include "span_frame.h"

namespace tif {

class SpanTable {
  public:
    static Result<SpanTable> create(uint32_t max_entries);

    int fd() const { return fd_.get(); }
    Status bind(uint64_t cookie, const SpanFrame& f, uint64_t ttl_ns);
    Status unbind(uint64_t cookie); // ENOENT is not an error
    // Deletes expired entries; returns how many live ones remain.
    Result<uint64_t> sweep();
    Result<uint64_t> count_live() const;

  private:
    explicit SpanTable(UniqueFd fd) : fd_(std::move(fd)) {}
    Result<uint64_t> walk(bool delete_expired) const;
    UniqueFd fd_;
};

uint64_t boottime_ns();

} // namespace tif

// The span-binding table shared with the probes: an LRU hash (socket cookie -> binding)
// created by the daemon before any probe loads. User space writes bindings and sweeps expired
// ones; the probes read them (ignoring expired entries) and delete a socket's binding when it
// closes.
#pragma once

#include <cstdint>
#include <string>

#include <bpf/libbpf.h>

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

// Before load: points a probe's placeholder span_bindings (probes/span_binding.bpf.h) at the
// daemon's table, fd < 0 when there is none (the span module is off), and sets the probe's
// tif_have_span_table to match, so no probe can have the one without the other.
template <class Skel> Status use_span_table(Skel& skel, int fd, const std::string& probe) {
    skel.rodata->tif_have_span_table = fd >= 0;
    if (fd < 0)
        return Ok{};
    if (int err = bpf_map__reuse_fd(skel.maps.span_bindings, fd))
        return os_error(err, "reuse the span-binding table in " + probe);
    return Ok{};
}

} // namespace tif

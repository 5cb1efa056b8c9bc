// The span-binding table shared with the probes: an LRU hash (socket cookie -> binding)
// created by the daemon before any probe loads, and its gate (span_binding.h). User space
// writes bindings and sweeps expired ones; the probes read them (ignoring expired entries) and
// delete a socket's binding when it closes. bind() and sweep() run on the span strand only:
// the gate is kept right by their order, not by a lock.
#pragma once

#include <cstdint>
#include <string>

#include <bpf/libbpf.h>

#include "bpf/bpf_raii.h"
#include "core/result.h"
#include "span/span_frame.h"
#include "span/span_maps.h"
#include "span_binding.h"

namespace tif {

class SpanTable {
  public:
    static Result<SpanTable> create(uint32_t max_entries);

    SpanMapFds fds() const { return {fd_.get(), gate_.get()}; }
    // Opens the gate first: a probe that sees the binding also sees the gate open.
    Status bind(uint64_t cookie, const SpanFrame& f, uint64_t ttl_ns);
    Status unbind(uint64_t cookie); // ENOENT is not an error
    // Deletes expired entries and closes the gate when no entry is left; returns how many
    // live ones remain.
    Result<uint64_t> sweep();
    Result<uint64_t> count_live() const;

  private:
    SpanTable(UniqueFd fd, UniqueFd gate) : fd_(std::move(fd)), gate_(std::move(gate)) {}
    Result<uint64_t> walk(bool delete_expired) const;
    Status set_gate(bool open);
    UniqueFd fd_;
    UniqueFd gate_;
    bool gate_open_ = false; // our copy: no syscall per bind once it is open
};

uint64_t boottime_ns();

} // namespace tif

// The daemon's span maps as a probe takes them over (probes/span_binding.bpf.h): the binding
// table and its gate, both made by the span module before any probe loads.
#pragma once

#include <string>

#include <bpf/libbpf.h>

#include "core/result.h"

namespace tif {

struct SpanMapFds {
    int bindings = -1; // LRU hash, socket cookie -> tif_span_binding; -1: the span module is off
    int in_use = -1;   // array of one u32: non-zero while `bindings` may hold an entry
};

// Before load: points a probe's placeholder span maps at the daemon's, and sets the probe's
// tif_have_span_table to match, so no probe can have the one without the other.
template <class Skel> Status use_span_table(Skel& skel, SpanMapFds fds, const std::string& probe) {
    skel.rodata->tif_have_span_table = fds.bindings >= 0;
    if (fds.bindings < 0)
        return Ok{};
    if (int err = bpf_map__reuse_fd(skel.maps.span_bindings, fds.bindings))
        return os_error(err, "reuse the span-binding table in " + probe);
    if (int err = bpf_map__reuse_fd(skel.maps.span_in_use, fds.in_use))
        return os_error(err, "reuse the span-binding gate in " + probe);
    return Ok{};
}

} // namespace tif

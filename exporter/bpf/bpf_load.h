// Loading a skeleton's programs. When the verifier refuses one, libbpf prints the verifier's
// log through our print callback (Log::route_libbpf), so the reason lands in the JSON log as
// warn lines from component "libbpf"; the error returned here points at them.
#pragma once

#include <string>

#include "core/result.h"

namespace tif {

template <class Skel> Status load_skeleton(Skel* skel, const std::string& name) {
    if (int err = Skel::load(skel))
        return os_error(err, "load BPF object " + name +
                                 " (the verifier's reason is in the libbpf lines above)");
    return Ok{};
}

} // namespace tif

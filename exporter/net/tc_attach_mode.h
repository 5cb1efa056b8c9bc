// --bpf.tc-attach: how the tc programs reach the interfaces. auto resolves to tcx links where
// the kernel has them (Linux 6.6+; tcx_link.h), else clsact filters (tc_attach.h).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace tif {

enum class TcAttach { auto_, tcx, clsact };

inline std::string_view tc_attach_name(TcAttach a) {
    return a == TcAttach::tcx ? "tcx" : a == TcAttach::clsact ? "clsact" : "auto";
}

inline Result<TcAttach> parse_tc_attach(std::string_view s) {
    for (TcAttach a : {TcAttach::auto_, TcAttach::tcx, TcAttach::clsact})
        if (s == tc_attach_name(a))
            return a;
    return Error{EINVAL, "--bpf.tc-attach: one of auto, tcx, clsact: \"" + std::string(s) + "\""};
}

} // namespace tif

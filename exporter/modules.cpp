// The list of modules. Adding a probe = one start function + one line here.
#include "module.h"

namespace tif {

Status start_retransmit_module(DaemonContext& ctx);

std::vector<Module> all_modules()
{
    return {
        {"tcp_retransmit", start_retransmit_module},
    };
}

}  // namespace tif

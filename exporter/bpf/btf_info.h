// Facts about the running kernel read from its BTF, used to pick program variants before load.
#pragma once

#include <string>

#include "core/result.h"

namespace tif {

// Number of arguments of a BTF-enabled tracepoint (without the hidden context pointer), e.g.
// 3 for tcp_retransmit_skb(sk, skb, err) on 6.13+, 2 before. Error if the kernel lacks it.
Result<int> tracepoint_arg_count(const std::string& tracepoint);

} // namespace tif

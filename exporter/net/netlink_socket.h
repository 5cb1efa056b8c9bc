// A NETLINK_ROUTE socket for link messages: subscribe to RTNLGRP_LINK, ask for a full dump,
// or read a dump synchronously (for `traceiface list`).
#pragma once

#include <cstdint>
#include <vector>

#include "bpf/bpf_raii.h"
#include "core/result.h"
#include "net/link_parser.h"

namespace tif {

// Opens a route netlink socket, bound to the link multicast group when `subscribe`.
Result<UniqueFd> open_rtnl(bool subscribe, bool nonblock);

// Sends RTM_GETLINK with NLM_F_DUMP; the answer arrives as RTM_NEWLINK messages and NLMSG_DONE
// carrying `seq`.
Status request_link_dump(int fd, uint32_t seq);

// Every link of our network namespace, read synchronously.
Result<std::vector<LinkMsg>> dump_links();

} // namespace tif

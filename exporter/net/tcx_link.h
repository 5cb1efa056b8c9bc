// tcx links (Linux 6.6+): our tc programs at the head of each hook's tcx chain, with no clsact
// qdisc and cls_bpf classifier in front of them. That dispatch cost more busy CPU than our
// programs themselves on small packets (bench/hook_profile.sh), and tcx removes it.
//
// A link lives while something references it: our fd, or its pin under the pin directory.
// Pinned, it outlives a crash the way a clsact filter does and keeps counting into the pinned
// maps; the successor swaps its own program into the link (bpf_link_update), so a restart
// leaves no gap and never has two programs counting. Unpinned, it dies with the process.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bpf/bpf_raii.h"
#include "core/result.h"
#include "net/tc_attach.h"

namespace tif {

// Whether this kernel attaches SCHED_CLS programs through tcx links. A link on no device
// answers ENODEV where tcx exists and EINVAL where the attach type is unknown.
bool tcx_supported(int prog_fd);

class TcxLink {
  public:
    TcxLink() = default;
    // Attaches prog_fd first in the hook's chain (it only counts and hands every packet on),
    // or takes over the link pinned at `pin` by a predecessor of ours on this hook. pin "": not
    // pinned. A pin that cannot be written is logged; the link still counts.
    static Result<TcxLink> attach(int ifindex, TcDir dir, int prog_fd, const std::string& pin);
    // Detaches the link from its device (a vanished device already did) and removes its pin.
    Status detach();
    // Dropping the owner without detach() closes our fd only: a pinned link keeps counting.
    bool took_over() const { return took_over_; }
    uint32_t id() const { return id_; }
    explicit operator bool() const { return bool(fd_); }

  private:
    UniqueFd fd_;
    std::string pin_;
    uint32_t id_ = 0;
    bool took_over_ = false;
};

// Where the link of a hook is pinned: PIN_DIR/tcx_<ifindex>_<ingress|egress>; "" when pin_dir
// is "" (pinning disabled).
std::string tcx_pin_path(const std::string& pin_dir, uint32_t ifindex, TcDir dir);

struct TcxPin {
    uint32_t ifindex = 0;
    TcDir dir = TcDir::ingress;
    std::string path;
};
// The link pins in pin_dir, whatever state their links are in.
std::vector<TcxPin> tcx_pins(const std::string& pin_dir);
// Detaches a pinned link and removes the pin (a leftover: its interface vanished or is no
// longer watched, or the daemon now attaches through clsact).
Status tcx_drop_pin(const std::string& path);

// Ids of the programs on a hook's tcx chain, first to last; empty when none or no tcx.
Result<std::vector<uint32_t>> tcx_query(int ifindex, TcDir dir);

} // namespace tif

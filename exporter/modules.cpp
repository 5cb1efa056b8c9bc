// The list of modules. Adding a probe = one start function + one line here.
#include "module.h"

namespace tif {

Status start_span_module(DaemonContext& ctx);
Status start_retransmit_module(DaemonContext& ctx);
Status start_packet_module(DaemonContext& ctx);
Status start_latency_module(DaemonContext& ctx);
Status start_k8s_module(DaemonContext& ctx);

std::vector<Module> all_modules() {
    return {
        {"span_socket", start_span_module}, // first: it creates the table the probes share
        {"tcp_retransmit", start_retransmit_module},
        {"tc_packets", start_packet_module},
        {"tcp_latency", start_latency_module},
        {"k8s_pod_identity", start_k8s_module}, // never fails: off, cri or cgroup
    };
}

} // namespace tif

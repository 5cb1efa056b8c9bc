// The JSON log line of one TCP retransmit (schema in README "Log lines").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "k8s/pod_directory.h"
#include "log/log.h"
#include "tcp_retransmit.h"

namespace tif {

std::string_view tcp_state_name(uint8_t state);
std::string_view rtx_kind_name(uint8_t kind);
std::string format_addr(uint16_t family, const uint8_t (&addr)[16]);
std::string hex_id(const uint8_t* bytes, size_t n); // lower-case, 2 characters per byte

// Which pod a socket belongs to, as far as it is known (k8s/pod_directory.h).
struct RtxPodContext {
    const PodIdentity* pod = nullptr; // namespace, pod, pod_uid fields
    // The socket is in the node's network namespace on a Kubernetes node: host_network is
    // said, and `pod` is set only when the socket's cgroup named a hostNetwork pod's.
    bool host_network = false;
    std::string_view container_id; // from the socket's cgroup, where it names one
};

// `iface` is the label from iface_label(); `route_iface` the socket's own route device label.
Fields rtx_event_json(const tif_rtx_event& e, int64_t boot_to_realtime_ns, const std::string& iface,
                      const std::string& route_iface, const RtxPodContext& pod = {});

} // namespace tif

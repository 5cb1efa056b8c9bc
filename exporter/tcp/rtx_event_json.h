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

// `iface` is the label from iface_label(); `route_iface` the socket's own route device label;
// `pod` the pod whose network namespace the socket is in (namespace, pod, pod_uid fields).
Fields rtx_event_json(const tif_rtx_event& e, int64_t boot_to_realtime_ns, const std::string& iface,
                      const std::string& route_iface, const PodIdentity* pod = nullptr);

} // namespace tif

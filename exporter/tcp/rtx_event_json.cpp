#include "tcp/rtx_event_json.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <array>
#include <cstring>

namespace tif {

std::string_view tcp_state_name(uint8_t state) {
    static constexpr std::array<std::string_view, 14> names = {
        "UNKNOWN",   "ESTABLISHED", "SYN_SENT",     "SYN_RECV",      "FIN_WAIT1",
        "FIN_WAIT2", "TIME_WAIT",   "CLOSE",        "CLOSE_WAIT",    "LAST_ACK",
        "LISTEN",    "CLOSING",     "NEW_SYN_RECV", "BOUND_INACTIVE"};
    return state < names.size() ? names[state] : "UNKNOWN";
}

std::string_view rtx_kind_name(uint8_t kind) {
    static constexpr std::array<std::string_view, TIF_RTX_KIND_MAX> names = {"syn", "synack", "rto",
                                                                             "fast", "other"};
    return kind < names.size() ? names[kind] : "other";
}

std::string format_addr(uint16_t family, const uint8_t (&addr)[16]) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family == AF_INET)
        inet_ntop(AF_INET, addr, buf, sizeof(buf));
    else if (family == AF_INET6)
        inet_ntop(AF_INET6, addr, buf, sizeof(buf));
    return buf;
}

std::string hex_id(const uint8_t* bytes, size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(2 * n, '0');
    for (size_t i = 0; i < n; ++i) {
        s[2 * i] = digits[bytes[i] >> 4];
        s[2 * i + 1] = digits[bytes[i] & 15];
    }
    return s;
}

Fields rtx_event_json(const tif_rtx_event& e, int64_t boot_to_realtime_ns, const std::string& iface,
                      const std::string& route_iface, const RtxPodContext& ctx) {
    Fields j = log_head(int64_t(e.ts_boot_ns) + boot_to_realtime_ns, Level::info, "tcp retransmit");
    j["event"] = "tcp_retransmit";
    j["iface"] = iface;
    j["ifindex"] = e.iface.ifindex;
    if (route_iface != iface)
        j["route_iface"] = route_iface; // the socket's own view, e.g. a container's eth0
    j["netns"] = e.route_iface.netns_ino;
    if (ctx.host_network)
        j["host_network"] = true;
    if (const PodIdentity* pod = ctx.pod) { // the socket's netns (or cgroup) is a pod's
        if (!pod->pod.empty()) {
            j["namespace"] = pod->namespace_;
            j["pod"] = pod->pod;
        }
        if (!pod->uid.empty())
            j["pod_uid"] = pod->uid;
        if (!ctx.container_id.empty())
            j["container_id"] = std::string(ctx.container_id);
    }
    j["family"] = e.family == AF_INET6 ? "ipv6" : "ipv4";
    j["saddr"] = format_addr(e.family, e.saddr);
    j["sport"] = e.sport;
    j["daddr"] = format_addr(e.family, e.daddr);
    j["dport"] = e.dport;
    j["state"] = tcp_state_name(e.state);
    j["kind"] = rtx_kind_name(e.kind);
    j["segs"] = e.segs;
    j["srtt_us"] = e.srtt_us;
    if (e.err != 0)
        j["err"] = e.err;
    if (e.sock_cookie != 0)
        j["sock_cookie"] = e.sock_cookie;
    if (e.bound) { // the application's trace context (span-context socket)
        j["trace_id"] = hex_id(e.trace_id, sizeof(e.trace_id));
        j["span_id"] = hex_id(e.span_id, sizeof(e.span_id));
        size_t len = strnlen(e.span_name, sizeof(e.span_name));
        if (len > 0)
            j["name"] = std::string(e.span_name, len);
    }
    return j;
}

} // namespace tif

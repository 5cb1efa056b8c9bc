// Event lines -> one OTLP ExportLogsServiceRequest (OTLP/HTTP's protobuf body for /v1/logs).
// Each line becomes one LogRecord:
//
//   time_unix_nano           the line's "ts" (for a retransmit: when the kernel saw it)
//   observed_time_unix_nano  when traceiface queued the line for export
//   severity_number / _text  from "level": debug 5, info 9, warn 13, error 17 / "info" as written
//   body                     the JSON line itself, a string: the same bytes stdout and Loki get
//   attributes               the fields users filter by (OTLP_LOG_ATTRIBUTES), typed: strings,
//                            integers, booleans
//   trace_id, span_id        the bound trace's ids as their 16 and 8 bytes ("trace_id",
//                            "span_id" of the line), what links the record to the trace
//   event_name               the line's "event" (e.g. "tcp_retransmit")
//
// All records go under one resource (as the metrics push's) and the scope "traceiface".
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "log/log.h"
#include "otlp/otlp_mapping.h"
#include "otlp_logs_service.pb.h"

namespace tif {

// The line's fields that become attributes, where the line has them.
inline constexpr std::array<std::string_view, 13> OTLP_LOG_ATTRIBUTES = {
    "event", "iface", "route_iface", "namespace", "pod",   "saddr",       "sport",
    "daddr", "dport", "kind",        "segs",      "state", "host_network"};

struct OtlpLogLine {
    Fields line;
    uint64_t observed_ns = 0; // Unix ns
};

void to_otlp_log_record(const Fields& line, uint64_t observed_ns,
                        otlp_pb::logs::v1::LogRecord* out);

otlp_pb::collector::logs::v1::ExportLogsServiceRequest
to_otlp_logs_request(const std::vector<OtlpLogLine>& lines, const OtlpResourceInfo& resource);

} // namespace tif

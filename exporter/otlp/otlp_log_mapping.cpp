#include "otlp/otlp_log_mapping.h"

#include <algorithm>
#include <string>

#include "log/clock.h"

namespace tif {

namespace pb_common = opentelemetry::proto::common::v1;
namespace pb_logs = opentelemetry::proto::logs::v1;

namespace {

pb_logs::SeverityNumber severity_of(std::string_view level) {
    if (level == "debug")
        return pb_logs::SEVERITY_NUMBER_DEBUG;
    if (level == "info")
        return pb_logs::SEVERITY_NUMBER_INFO;
    if (level == "warn")
        return pb_logs::SEVERITY_NUMBER_WARN;
    if (level == "error")
        return pb_logs::SEVERITY_NUMBER_ERROR;
    return pb_logs::SEVERITY_NUMBER_UNSPECIFIED;
}

// A JSON scalar as an AnyValue; false for what has no place here (objects, arrays, null).
bool set_value(pb_common::AnyValue* out, const Fields& v) {
    if (v.is_string())
        out->set_string_value(v.get<std::string>());
    else if (v.is_boolean())
        out->set_bool_value(v.get<bool>());
    else if (v.is_number_unsigned())
        out->set_int_value(int64_t(v.get<uint64_t>())); // every field of a line fits
    else if (v.is_number_integer())
        out->set_int_value(v.get<int64_t>());
    else if (v.is_number_float())
        out->set_double_value(v.get<double>());
    else
        return false;
    return true;
}

std::string string_field(const Fields& line, const char* key) {
    auto it = line.find(key);
    return it != line.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

void to_otlp_log_record(const Fields& line, uint64_t observed_ns, pb_logs::LogRecord* out) {
    out->set_time_unix_nano(
        uint64_t(std::max<int64_t>(parse_rfc3339_ns(string_field(line, "ts")), 0)));
    out->set_observed_time_unix_nano(observed_ns);
    const std::string level = string_field(line, "level");
    out->set_severity_number(severity_of(level));
    out->set_severity_text(level);
    out->mutable_body()->set_string_value(
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    for (std::string_view k : OTLP_LOG_ATTRIBUTES) {
        auto it = line.find(k);
        if (it == line.end())
            continue;
        auto* kv = out->add_attributes();
        if (!set_value(kv->mutable_value(), *it)) {
            out->mutable_attributes()->RemoveLast();
            continue;
        }
        kv->set_key(std::string(k));
    }
    // Ids that are not hex of the right length, or all zeros (invalid in W3C trace context),
    // stay in the body only.
    const auto id = [&](const char* key, size_t n) {
        auto b = hex_to_bytes(string_field(line, key), n);
        return b && b->find_first_not_of('\0') != std::string::npos ? std::move(*b) : std::string();
    };
    out->set_trace_id(id("trace_id", 16));
    out->set_span_id(id("span_id", 8));
    out->set_event_name(string_field(line, "event"));
}

otlp_pb::collector::logs::v1::ExportLogsServiceRequest
to_otlp_logs_request(const std::vector<OtlpLogLine>& lines, const OtlpResourceInfo& resource) {
    otlp_pb::collector::logs::v1::ExportLogsServiceRequest req;
    auto* rl = req.add_resource_logs();
    otlp_fill_resource(rl->mutable_resource(), resource);
    auto* sl = rl->add_scope_logs();
    otlp_fill_scope(sl->mutable_scope(), resource);
    sl->mutable_log_records()->Reserve(int(lines.size()));
    for (const auto& l : lines)
        to_otlp_log_record(l.line, l.observed_ns, sl->add_log_records());
    return req;
}

} // namespace tif

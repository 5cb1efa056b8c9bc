// Flags of the operator surface (--config.*, --web.enable-lifecycle, --log.event-*), kept apart
// from options.cpp like the span flags; parse_options() merges them in with add_operator_flags().
#pragma once

#include <string>
#include <string_view>

#include "config/span_options.h" // FlagMap

namespace tif {

struct Options;

void add_operator_flags(FlagMap& flags, Options& o);
std::string operator_usage();

// Flags that may stand alone ("--web.enable-lifecycle" = "--web.enable-lifecycle=true").
bool is_bool_flag(std::string_view name);

} // namespace tif

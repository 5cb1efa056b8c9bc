// Our tc filters on clsact hooks, found and handled by their fixed handle and priority
// (TIF_TC_HANDLE / TIF_TC_PRIORITY in tc_stats.h) and by the name of the program they run.
// Coexistence with other tc users (Cilium, Calico, an operator's `tc filter`): we only ever
// replace or delete a filter at our handle/priority that runs a program with one of our names,
// and remove the clsact qdisc only when we created it and no filter at all is left on it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace tif {

enum class TcDir { ingress, egress };
std::string_view tc_dir_name(TcDir d);

// The program our handle/priority holds on a hook, if any.
struct TcFilter {
    uint32_t prog_id = 0;
    std::string prog_name; // "" when the program could not be inspected
    bool ours = false;     // prog_name is one of our program names
};
Result<std::optional<TcFilter>> tc_query(int ifindex, TcDir dir);
// A program by id, named and judged like tc_query's (also for tcx chains, tcx_link.h).
TcFilter tc_program(uint32_t prog_id);

// Creates the clsact qdisc when missing; `created` says whether it was us.
Status tc_ensure_clsact(int ifindex, bool& created);

// Attaches prog_fd at our handle/priority, replacing a predecessor of ours in place (so a
// restart never doubles the filter). Refuses (EEXIST) when a foreign program sits there.
// Returns the id of the attached program.
Result<uint32_t> tc_attach(int ifindex, TcDir dir, int prog_fd);

// Deletes our filter if it still runs prog_id; anything else there is left alone.
Status tc_detach(int ifindex, TcDir dir, uint32_t prog_id);

// Number of filters on the hook, ours included (an RTM_GETTFILTER dump).
Result<size_t> tc_count_filters(int ifindex, TcDir dir);

// Whether every filter on both hooks is one of ours (at our handle/priority, our program).
bool tc_only_ours(int ifindex);

// Removes the clsact qdisc if neither hook holds a filter.
Status tc_remove_clsact_if_empty(int ifindex);

// Whether a program name (as the kernel truncates it) is one of ours.
bool is_our_prog_name(std::string_view name);

// Program ids that count as ours even when their name cannot be read: reading it needs
// BPF_PROG_GET_FD_BY_ID (CAP_SYS_ADMIN), which a daemon without root, or after dropping its
// capabilities, does not have. Filled at start-up from the pin directory's record and from
// tc_loaded_programs_named_ours(); thread-safe.
void tc_add_known_ids(const std::vector<uint32_t>& ids);
// Ids of every loaded program named like ours; empty without CAP_SYS_ADMIN.
std::vector<uint32_t> tc_loaded_programs_named_ours();

} // namespace tif

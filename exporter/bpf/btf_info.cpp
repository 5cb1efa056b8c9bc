#include "bpf/btf_info.h"

#include <bpf/btf.h>

#include <memory>

namespace tif {

Result<int> tracepoint_arg_count(const std::string& tp) {
    std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), &btf__free);
    if (!vmlinux)
        return os_error(errno, "load kernel BTF (/sys/kernel/btf/vmlinux)");
    // Each tracepoint has `typedef void (*btf_trace_<tp>)(void *, args...)`.
    const std::string name = "btf_trace_" + tp;
    int id = btf__find_by_name_kind(vmlinux.get(), name.c_str(), BTF_KIND_TYPEDEF);
    if (id < 0)
        return os_error(ENOENT, "find tracepoint " + tp + " in kernel BTF");
    const btf_type* t = btf__type_by_id(vmlinux.get(), id);
    t = btf__type_by_id(vmlinux.get(), t->type); // pointer
    if (!t || !btf_is_ptr(t))
        return Error{0, "unexpected BTF shape for " + name};
    t = btf__type_by_id(vmlinux.get(), t->type); // func proto
    if (!t || !btf_is_func_proto(t))
        return Error{0, "unexpected BTF shape for " + name};
    return int(btf_vlen(t)) - 1;
}

} // namespace tif

#include "bpf/kernel_features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "bpf/bpf_raii.h"
#include "bpf/btf_info.h"
#include "core/capabilities.h"
#include "log/log.h"

namespace tif {

HelperProbe classify_helper_probe(int load_result, std::string_view log) {
    if (load_result >= 0)
        return HelperProbe::available;
    // The verifier's words for "no such helper for this program type": "unknown func"
    // (before 5.18-ish), "program of this type cannot use helper" (later), "invalid func"
    // (an id beyond the kernel's table), "not allowed in probe" (the helper's own check).
    for (std::string_view refusal :
         {"unknown func ", "cannot use helper ", "invalid func ", "helper call is not allowed"})
        if (log.find(refusal) != std::string_view::npos)
            return HelperProbe::missing;
    // Refused for something else (our probe passes dummy arguments on purpose): the verifier
    // got past the helper lookup, so the helper is there. No log at all says nothing.
    return log.empty() ? HelperProbe::inconclusive : HelperProbe::available;
}

namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    bpf_insn i{};
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

// Loads `r1 = ctx[0] (the socket); r2..r4 = 0 (or r1 = 0 for map-first helpers); call helper;
// exit` as a tp_btf program on inet_sock_set_state, and judges the verifier's answer.
Result<bool> tracing_helper_available(int btf_trace_id, bpf_func_id helper, bool sock_first) {
    constexpr uint8_t ldx_dw = BPF_LDX | BPF_MEM | BPF_DW, mov_k = BPF_ALU64 | BPF_MOV | BPF_K;
    std::vector<bpf_insn> prog;
    if (sock_first) {
        prog.push_back(insn(ldx_dw, BPF_REG_1, BPF_REG_1, 0, 0));
    } else {
        prog.push_back(insn(ldx_dw, BPF_REG_2, BPF_REG_1, 0, 0));
        prog.push_back(insn(mov_k, BPF_REG_1, 0, 0, 0));
        prog.push_back(insn(mov_k, BPF_REG_3, 0, 0, 0));
        prog.push_back(insn(mov_k, BPF_REG_4, 0, 0, 0));
    }
    prog.push_back(insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper));
    prog.push_back(insn(mov_k, BPF_REG_0, 0, 0, 0));
    prog.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));

    std::string log(64 * 1024, '\0');
    bpf_prog_load_opts opts{};
    opts.sz = sizeof(opts);
    opts.expected_attach_type = BPF_TRACE_RAW_TP;
    opts.attach_btf_id = uint32_t(btf_trace_id);
    opts.log_level = 1;
    opts.log_size = uint32_t(log.size());
    opts.log_buf = log.data();
    UniqueFd fd(bpf_prog_load(BPF_PROG_TYPE_TRACING, "tif_feature", "GPL", prog.data(), prog.size(),
                              &opts));
    const int err = fd ? 0 : errno;
    log.resize(log.find('\0') == std::string::npos ? log.size() : log.find('\0'));
    switch (classify_helper_probe(fd ? fd.get() : -1, log)) {
    case HelperProbe::available:
        return true;
    case HelperProbe::missing:
        return false;
    case HelperProbe::inconclusive:
        break;
    }
    return os_error(err, "probe BPF helper " + std::to_string(helper) + " in a tp_btf program");
}

// Reads a map of our own from a thread without capabilities (capabilities are per thread),
// as the daemon's threads will after start-up.
Result<bool> fd_ops_without_cap() {
    UniqueFd map(bpf_map_create(BPF_MAP_TYPE_ARRAY, "tif_feature", 4, 4, 1, nullptr));
    if (!map)
        return os_error(errno, "create a BPF map (probe for bpf() without CAP_BPF)");
    int err = 0;
    std::thread t([&] {
        drop_thread_caps();
        uint32_t key = 0, value = 0;
        err = bpf_map_lookup_elem(map.get(), &key, &value) == 0 ? 0 : errno;
    });
    t.join();
    if (err != 0 && err != EPERM)
        return os_error(err, "read a BPF map without CAP_BPF");
    return err == 0;
}

Result<KernelFeatures> detect() {
    KernelFeatures f;
    auto nargs = tracepoint_arg_count("tcp_retransmit_skb");
    if (!nargs)
        return nargs.error();
    f.tcp_retransmit_err = *nargs >= 3;

    std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), &btf__free);
    if (!vmlinux)
        return os_error(errno, "load kernel BTF (/sys/kernel/btf/vmlinux)");
    // A tp_btf program names its tracepoint by the BTF id of `btf_trace_<name>`.
    int tp =
        btf__find_by_name_kind(vmlinux.get(), "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF);
    if (tp < 0)
        return os_error(ENOENT, "find tracepoint inet_sock_set_state in kernel BTF");
    f.rdonly_cast_kfunc =
        btf__find_by_name_kind(vmlinux.get(), "bpf_rdonly_cast", BTF_KIND_FUNC) > 0;
    auto storage = tracing_helper_available(tp, BPF_FUNC_sk_storage_get, false);
    if (!storage)
        return storage.error();
    f.tracing_sk_storage = *storage;
    auto cookie = tracing_helper_available(tp, BPF_FUNC_get_socket_cookie, true);
    if (!cookie)
        return cookie.error();
    f.tracing_socket_cookie = *cookie;
    auto fd_ops = fd_ops_without_cap();
    if (!fd_ops)
        return fd_ops.error();
    f.bpf_fd_ops_without_cap = *fd_ops;
    return f;
}

} // namespace

Result<KernelFeatures> kernel_features() {
    static std::once_flag once;
    static std::optional<Result<KernelFeatures>> cached;
    std::call_once(once, [] {
        cached.emplace(detect());
        if (!*cached) {
            Log::msg(Level::warn, "kernel features not detected",
                     Fields{{"error", cached->error().message()}});
            return;
        }
        const KernelFeatures& f = cached->value();
        Log::msg(Level::info, "kernel features",
                 Fields{{"tcp_retransmit_err", f.tcp_retransmit_err},
                        {"tracing_sk_storage", f.tracing_sk_storage},
                        {"tracing_socket_cookie", f.tracing_socket_cookie},
                        {"rdonly_cast_kfunc", f.rdonly_cast_kfunc},
                        {"bpf_fd_ops_without_cap", f.bpf_fd_ops_without_cap}});
    });
    return *cached;
}

} // namespace tif

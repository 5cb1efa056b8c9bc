// What the running kernel lets our tracing programs do, detected once before the probes load,
// so each probe picks the variant the verifier will accept instead of failing on older kernels
// (see the "Supported kernels" table in the README).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace tif {

struct KernelFeatures {
    // tcp_retransmit_skb passes the retransmit's result as `err` (6.13+): from kernel BTF.
    bool tcp_retransmit_err = false;
    // bpf_sk_storage_get/delete callable from tp_btf programs (5.11+). Without it the latency
    // probe keeps its per-socket state in an LRU hash keyed by socket, deleted at TCP_CLOSE.
    bool tracing_sk_storage = false;
    // bpf_get_socket_cookie callable from tp_btf programs (5.12+). Without it the probes read
    // the cookie the socket already has (sk_cookie: set once anyone asked for SO_COOKIE, as
    // the span server does for every bound socket; 0 otherwise).
    bool tracing_socket_cookie = false;
    // The kfunc bpf_rdonly_cast (6.2+), from kernel BTF: the probes read a socket as the
    // tcp_sock it is without the ~20 ns helper bpf_skc_to_tcp_sock on every segment.
    bool rdonly_cast_kfunc = false;
    // bpf() on objects already held (map reads, program info) works without CAP_BPF. Before
    // 6.5 a kernel with kernel.unprivileged_bpf_disabled set (Debian's, Ubuntu's default)
    // refuses every bpf() command then, so the daemon must keep CAP_BPF after start-up.
    bool bpf_fd_ops_without_cap = false;
};

// Detected on first use (kernel BTF, and tiny tracing programs the verifier judges), logged
// once with the variants it implies, then cached. An error means the kernel lacks BTF or
// refuses BPF altogether; the probes would fail to load anyway.
Result<KernelFeatures> kernel_features();

// The flags of probes/kernel_compat.bpf.h, which every probe including it carries in its
// read-only data: set before load from what the kernel offers, the same way for every probe.
template <class Rodata> void set_compat_flags(Rodata& rodata, const KernelFeatures& f) {
    rodata.tif_have_cookie_helper = f.tracing_socket_cookie;
    rodata.tif_have_rdonly_cast = f.rdonly_cast_kfunc;
}
// The variants those flags pick, as the probes' `probe attached` log lines name them.
inline const char* tcp_sock_read_name(const KernelFeatures& f) {
    return f.rdonly_cast_kfunc ? "bpf_rdonly_cast" : "bpf_skc_to_tcp_sock";
}
inline const char* socket_cookie_name(const KernelFeatures& f) {
    return f.tracing_socket_cookie ? "helper" : "sk_cookie";
}

// How a helper-probe load came out: the helper exists for tracing programs unless the verifier
// named it unknown or not allowed for this program type. Exposed for the unit test.
enum class HelperProbe { available, missing, inconclusive };
HelperProbe classify_helper_probe(int load_result, std::string_view verifier_log);

} // namespace tif

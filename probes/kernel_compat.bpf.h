/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers whose availability to tracing programs depends on the kernel. User space detects
 * what the kernel allows (exporter/kernel_features.cpp) and sets the flags below before load;
 * the verifier treats read-only data as constants and never visits the branch a kernel could
 * not verify, so one object loads on old and new kernels alike. */
#ifndef TRACEIFACE_KERNEL_COMPAT_BPF_H
#define TRACEIFACE_KERNEL_COMPAT_BPF_H

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* bpf_get_socket_cookie() is callable from tp_btf programs (5.12+). */
const volatile bool tif_have_cookie_helper = true;

/* The cookie a socket already has, read from the socket (a typed tp_btf pointer: one load),
 * without making one as bpf_get_socket_cookie() would: a socket nobody asked SO_COOKIE of reads
 * 0 and cannot be bound (the span server asks for every socket it binds), so a span lookup or
 * an unbind can stop there, before any map access. */
static __always_inline __u64 tif_existing_cookie(const struct sock* sk) {
    return sk->__sk_common.skc_cookie.counter;
}

/* The socket's SO_COOKIE. Before 5.12 only the value the socket already has: the kernel makes
 * a cookie the first time anyone asks (SO_COOKIE, as the span server does for every socket
 * bound to a trace), so unbound sockets read 0 there. */
static __always_inline __u64 tif_socket_cookie(const struct sock* sk) {
    if (tif_have_cookie_helper)
        return bpf_get_socket_cookie((void*)sk);
    return tif_existing_cookie(sk);
}

/* The kfunc bpf_rdonly_cast() exists (6.2+). Weak: on older kernels libbpf leaves the call
 * unresolved and the verifier drops it as dead code, since the flag below is false there. */
extern void* bpf_rdonly_cast(const void* obj, __u32 btf_id) __ksym __weak;
const volatile bool tif_have_rdonly_cast = false;

/* `sk` as the tcp_sock it is. Only for sockets known to be full TCP sockets (tcp_probe's, or
 * inet_sock_set_state's once sk_protocol says TCP). bpf_rdonly_cast() is a cast the verifier
 * checks at load time: its loads are fault-safe like a tp_btf pointer's, and it costs nothing
 * at run time, where the helper bpf_skc_to_tcp_sock() costs about 20 ns a call on the
 * machines we measure on (a third of a tcp_probe run). */
static __always_inline const struct tcp_sock* tif_tcp_sk(const struct sock* sk) {
    if (tif_have_rdonly_cast)
        return bpf_rdonly_cast(sk, bpf_core_type_id_kernel(struct tcp_sock));
    return bpf_skc_to_tcp_sock((void*)sk);
}

#endif

/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers whose availability to tracing programs depends on the kernel. User space detects
 * what the kernel allows (exporter/kernel_features.cpp) and sets the flags below before load;
 * the verifier treats read-only data as constants and never visits the branch a kernel could
 * not verify, so one object loads on old and new kernels alike. */
#ifndef TRACEIFACE_KERNEL_COMPAT_BPF_H
#define TRACEIFACE_KERNEL_COMPAT_BPF_H

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

#endif

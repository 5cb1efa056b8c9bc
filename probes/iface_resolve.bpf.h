/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Which interface a socket's traffic leaves by, seen from the host network namespace.
 *
 * A socket's route device (sk->sk_dst_cache->dev) lives in the socket's own namespace, where
 * its ifindex may equal the index of an unrelated host interface. We therefore always carry
 * the namespace inode, and when the device is one end of a veth pair whose other end is in
 * the host namespace (a container's eth0), we report the host-side end: that is the
 * interface the host operator sees the traffic on. */
#ifndef TRACEIFACE_IFACE_RESOLVE_BPF_H
#define TRACEIFACE_IFACE_RESOLVE_BPF_H

#include "iface_ref.h"
#include "ifname_words.h"

/* Inode of the exporter's own (host) network namespace; set before load. */
const volatile __u32 host_netns_ino = 0;

static __always_inline __u32 tif_dev_netns(const struct net_device* dev) {
    return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

/* A typed device's name by two plain loads. Not bpf_probe_read_kernel_str(): with cold caches,
 * which is how the rare paths (retransmits, connects) run, that helper alone costs ~0.9 us a
 * call on the machines we measure on, more than everything else these programs do. */
static __always_inline void tif_read_name(char out[TIF_IFNAMSIZ], const struct net_device* dev) {
    tif_name_words(out, *(const __u64*)&dev->name[0], *(const __u64*)&dev->name[8]);
}

/* The same for a device reached by bpf_probe_read_kernel (not a typed pointer): one read. */
static __always_inline void tif_probe_read_name(char out[TIF_IFNAMSIZ],
                                                const struct net_device* dev) {
    __u64 w[2] = {};
    bpf_probe_read_kernel(w, sizeof(w), &dev->name);
    tif_name_words(out, w[0], w[1]);
}

static __always_inline void tif_fill_ref(struct tif_iface_ref* ref, const struct net_device* dev) {
    ref->netns_ino = tif_dev_netns(dev);
    ref->ifindex = BPF_CORE_READ(dev, ifindex);
    tif_probe_read_name(ref->name, dev);
}

static __always_inline int tif_is_veth(const struct net_device* dev) {
    const char* kind = BPF_CORE_READ(dev, rtnl_link_ops, kind);
    char buf[5] = {};

    if (!kind)
        return 0;
    bpf_probe_read_kernel(buf, sizeof(buf), kind);
    return buf[0] == 'v' && buf[1] == 'e' && buf[2] == 't' && buf[3] == 'h' && buf[4] == 0;
}

/* The other end of a veth pair: struct veth_priv sits in the device's private area, which
 * newer kernels declare as the flexible member `priv` of struct net_device and older ones
 * place right after it, aligned. */
static __always_inline const struct net_device* tif_veth_peer(const struct net_device* dev) {
    __u64 off;
    if (bpf_core_field_exists(dev->priv))
        off = bpf_core_field_offset(struct net_device, priv);
    else /* before `priv` (6.12): netdev_priv() = dev + ALIGN(sizeof(*dev), NETDEV_ALIGN = 32) */
        off = (bpf_core_type_size(struct net_device) + 31) & ~31ull;
    /* struct veth_priv is in the veth module's BTF, absent until the module is loaded (and
     * before 5.11 altogether): then rely on `peer` being its first member, as it always was. */
    __u64 peer_off = 0;
    if (bpf_core_type_exists(struct veth_priv))
        peer_off = bpf_core_field_offset(struct veth_priv, peer);
    const struct net_device* peer = NULL;
    bpf_probe_read_kernel(&peer, sizeof(peer), (const void*)dev + off + peer_off);
    return peer;
}

/* Fills `out` (host view) and `route` (the socket's own view) from the route device. Returns
 * 0 when the socket has no cached route. `sk` must be a tp_btf argument (a typed pointer): the
 * common path reads socket, route and device with plain loads (CO-RE relocated, faults caught
 * by the kernel) instead of one bpf_probe_read_kernel call per field. */
static __always_inline int tif_resolve_route_dev(const struct sock* sk, struct tif_iface_ref* out,
                                                 struct tif_iface_ref* route) {
    const struct dst_entry* dst = sk->sk_dst_cache;
    const struct net_device* dev = dst ? dst->dev : 0;

    if (!dev)
        return 0;
    route->netns_ino = dev->nd_net.net->ns.inum;
    route->ifindex = dev->ifindex;
    tif_read_name(route->name, dev);
    *out = *route;
    if (route->netns_ino == host_netns_ino || !tif_is_veth(dev))
        return 1;
    const struct net_device* peer = tif_veth_peer(dev);
    if (peer && tif_dev_netns(peer) == host_netns_ino)
        tif_fill_ref(out, peer);
    return 1;
}

#endif

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

/* Inode of the exporter's own (host) network namespace; set before load. */
const volatile __u32 host_netns_ino = 0;

static __always_inline __u32 tif_dev_netns(const struct net_device* dev) {
    return BPF_CORE_READ(dev, nd_net.net, ns.inum);
}

static __always_inline void tif_fill_ref(struct tif_iface_ref* ref, const struct net_device* dev) {
    ref->netns_ino = tif_dev_netns(dev);
    ref->ifindex = BPF_CORE_READ(dev, ifindex);
    bpf_probe_read_kernel_str(ref->name, sizeof(ref->name), &dev->name);
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
 * newer kernels declare as the flexible member `priv` of struct net_device. */
static __always_inline const struct net_device* tif_veth_peer(const struct net_device* dev) {
    if (!bpf_core_field_exists(dev->priv))
        return NULL;
    const struct veth_priv* vp = (const void*)dev + bpf_core_field_offset(struct net_device, priv);
    return BPF_CORE_READ(vp, peer);
}

/* Fills `out` (host view) and `route` (the socket's own view) from the route device. Returns
 * 0 when the socket has no cached route. */
static __always_inline int tif_resolve_route_dev(const struct sock* sk, struct tif_iface_ref* out,
                                                 struct tif_iface_ref* route) {
    const struct net_device* dev = BPF_CORE_READ(sk, sk_dst_cache, dev);

    if (!dev)
        return 0;
    tif_fill_ref(route, dev);
    *out = *route;
    if (route->netns_ino == host_netns_ino || !tif_is_veth(dev))
        return 1;
    const struct net_device* peer = tif_veth_peer(dev);
    if (peer && tif_dev_netns(peer) == host_netns_ino)
        tif_fill_ref(out, peer);
    return 1;
}

#endif

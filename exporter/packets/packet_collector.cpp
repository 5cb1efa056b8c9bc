#include "packets/packet_collector.h"

#include <limits>

namespace tif {

using prometheus::ClientMetric;
using prometheus::MetricType;

ClientMetric::Histogram size_histogram(const tif_tc_counts& c) {
    ClientMetric::Histogram h;
    h.bucket.reserve(TIF_SIZE_BUCKETS);
    uint64_t cumulative = 0;
    for (uint32_t i = 0; i < TIF_SIZE_BUCKETS; ++i) {
        cumulative += c.size_hist[i];
        ClientMetric::Bucket b;
        b.cumulative_count = cumulative;
        b.upper_bound = i + 1 < TIF_SIZE_BUCKETS ? double(uint64_t(TIF_SIZE_FIRST_BOUND) << i)
                                                 : std::numeric_limits<double>::infinity();
        h.bucket.push_back(b);
    }
    // _count from the buckets, not from `packets`: the kernel may add between the two reads,
    // and _count must equal the +Inf bucket.
    h.sample_count = cumulative;
    h.sample_sum = double(c.bytes);
    return h;
}

Status PacketCollector::collect(std::vector<prometheus::MetricFamily>& out) {
    auto snap = mgr_.snapshot();
    if (!snap)
        return snap.error();
    packet_families(*snap, out, pods_.get());
    return Ok{};
}

void packet_families(const PacketSnapshot& snap, std::vector<prometheus::MetricFamily>& out,
                     const PodDirectory* pods) {
    auto packets = make_family("traceiface_packets_total",
                               "Packets seen by traceiface's tc program on the interface, by "
                               "direction; a GSO/GRO super-packet counts once, as the device "
                               "statistics count it.",
                               MetricType::Counter);
    auto bytes = make_family("traceiface_bytes_total",
                             "Bytes of those packets including the L2 header (skb->len).",
                             MetricType::Counter);
    auto oversize = make_family("traceiface_oversize_packets_total",
                                "Packets longer than the interface MTU plus L2 header (and one "
                                "VLAN tag): GSO/GRO super-packets and oversized frames.",
                                MetricType::Counter);
    auto sizes = make_family("traceiface_packet_size_bytes",
                             "Packet sizes (skb->len) in log2 buckets from 64 B to 64 KiB.",
                             MetricType::Histogram);
    auto resent = make_family(
        "traceiface_tcp_egress_retransmit_segments_total",
        "TCP segments of this node's sockets that left the interface resending data, seen by "
        "tc egress (a GSO packet counts its segments). A bridge port or bond slave shows its "
        "share of the master's retransmits; traceiface_tcp_retransmit_segments_total counts "
        "by the socket's route device instead.",
        MetricType::Counter);
    auto info = make_family("traceiface_interface_info",
                            "Watched interfaces: kind, master (bond/bridge/VRF), link (vlan: "
                            "lower device; veth: peer in this namespace), MTU, oper state, and "
                            "for a veth into a pod's network namespace the pod's namespace and "
                            "name (empty otherwise).",
                            MetricType::Gauge);
    // Grown once, not by doubling: at 1,000 interfaces the moves of ClientMetrics add up.
    for (auto* f : {&packets, &bytes, &oversize, &sizes})
        f->metric.reserve(2 * snap.ifaces.size());
    info.metric.reserve(snap.ifaces.size());
    resent.metric.reserve(snap.ifaces.size());
    for (const auto& is : snap.ifaces) {
        const std::string& name = is.link.name;
        for (TcDir d : {TcDir::ingress, TcDir::egress}) {
            const tif_tc_counts& c = is.dir[int(d)];
            std::vector<ClientMetric::Label> l{{"iface", name},
                                               {"direction", std::string(tc_dir_name(d))}};
            add_sample(packets, l, double(c.packets));
            add_sample(bytes, l, double(c.bytes));
            add_sample(oversize, l, double(c.oversize));
            ClientMetric m;
            m.label = std::move(l);
            m.histogram = size_histogram(c);
            sizes.metric.push_back(std::move(m));
        }
        add_sample(resent, {{"iface", name}}, double(is.dir[int(TcDir::egress)].tcp_resent_segs));
        std::optional<PodIdentity> pod;
        if (pods && (is.link.link_other_netns || is.gone))
            pod = pods->by_link(is.link.ifindex, is.link.link_netnsid);
        std::vector<ClientMetric::Label> l{
            {"iface", name},
            {"ifindex", std::to_string(is.link.ifindex)},
            {"kind", is.kind},
            {"master", is.master},
            {"link", is.link_name},
            {"mtu", std::to_string(is.link.mtu)},
            {"operstate", is.gone ? "gone" : operstate_name(is.link.operstate)},
            {"namespace", pod ? pod->namespace_ : std::string()},
            {"pod", pod ? pod->pod : std::string()}};
        if (pods) { // --k8s.pod-labels: on every sample, empty where the pod has none
            const auto& keys = pods->label_keys();
            const auto& names = pods->label_names();
            for (size_t i = 0; i < keys.size() && i < names.size(); ++i) {
                std::string v;
                if (pod)
                    if (auto it = pod->labels.find(keys[i]); it != pod->labels.end())
                        v = it->second;
                l.push_back({names[i], std::move(v)});
            }
        }
        add_sample(info, l, 1);
    }
    auto watched =
        make_family("traceiface_interfaces_watched",
                    "Interfaces with traceiface's tc programs attached.", MetricType::Gauge);
    add_sample(watched, {}, double(snap.watched));
    auto refused = make_family("traceiface_interfaces_refused_total",
                               "Interfaces that passed the filter but were not watched because "
                               "--iface.max was reached (each counted once until it is watched).",
                               MetricType::Counter);
    add_sample(refused, {}, double(snap.refused_total));
    auto failures = make_family("traceiface_interface_attach_failures_total",
                                "Attempts to attach the tc programs to an interface that failed "
                                "(the reason is in the log).",
                                MetricType::Counter);
    add_sample(failures, {}, double(snap.attach_failures_total));
    for (auto* f :
         {&packets, &bytes, &oversize, &sizes, &resent, &info, &watched, &refused, &failures})
        out.push_back(std::move(*f));
}

} // namespace tif

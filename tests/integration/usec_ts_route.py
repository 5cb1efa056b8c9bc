# usec_ts_route.py DST_IP/LEN IFINDEX: adds (or replaces) a link-scope route to DST out of
# IFINDEX whose RTAX_FEATURES metric is RTAX_FEATURE_TCP_USEC_TS (1 << 4, kernel 6.7+), in the
# current network namespace. iproute2 before 6.8 cannot name that feature, so this speaks
# rtnetlink itself. Exits non-zero with the kernel's errno when the route is refused (EINVAL:
# a kernel without the feature).
import socket, struct, sys
dst, plen = sys.argv[1].split("/")
oif = int(sys.argv[2])
RTM_NEWROUTE, NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE = 24, 1, 4, 0x400, 0x100
RTA_DST, RTA_OIF, RTA_METRICS, RTAX_FEATURES = 1, 4, 8, 12
def rta(t, payload):
    l = 4 + len(payload)
    return struct.pack("HH", l, t) + payload + b"\0" * ((4 - l % 4) % 4)
metrics = rta(RTAX_FEATURES, struct.pack("I", 1 << 4))
attrs = rta(RTA_DST, socket.inet_aton(dst)) + rta(RTA_OIF, struct.pack("i", oif)) + rta(RTA_METRICS, metrics)
# rtmsg: family, dst_len, src_len, tos, table(main=254), protocol(boot=3), scope(link=253), type(unicast=1), flags
rtm = struct.pack("BBBBBBBBI", socket.AF_INET, int(plen), 0, 0, 254, 3, 253, 1, 0)
body = rtm + attrs
hdr = struct.pack("IHHII", 16 + len(body), RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, 1, 0)
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
s.send(hdr + body)
ack = s.recv(4096)
err = struct.unpack("i", ack[16:20])[0]
sys.exit(f"netlink error {err}" if err else 0)

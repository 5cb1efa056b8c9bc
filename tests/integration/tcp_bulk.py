# tcp_bulk.py sink IP PORT | send IP PORT SECONDS [CC]
# sink: accepts connections on IP:PORT and discards what they send, until killed.
# send: connects, sends for SECONDS with congestion control CC (default bbr), shuts down its
# side, waits for the sink to close, then prints one JSON line: the local port and the
# kernel's own count of the segments this socket retransmitted (tcp_info.tcpi_total_retrans,
# read after the last byte was acknowledged), the oracle of the per-port counts.
import json, socket, struct, sys, threading, time

mode, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "sink":
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((ip, port))
    ls.listen(16)
    print("listening", flush=True)

    def drain(c):
        with c:
            while c.recv(1 << 20):
                pass

    while True:
        c, _ = ls.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()

secs = float(sys.argv[4])
cc = sys.argv[5] if len(sys.argv) > 5 else "bbr"
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.settimeout(30)
s.connect((ip, port))
buf = b"\0" * (1 << 20)
sent, end = 0, time.monotonic() + secs
while time.monotonic() < end:
    sent += s.send(buf)
s.shutdown(socket.SHUT_WR)
while s.recv(4096):  # the sink closes once it has read everything: all of it acknowledged
    pass
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
total_retrans = struct.unpack_from("I", info, 100)[0]  # struct tcp_info.tcpi_total_retrans
print(json.dumps({"local_port": s.getsockname()[1], "bytes": sent,
                  "total_retrans": total_retrans}), flush=True)
s.close()

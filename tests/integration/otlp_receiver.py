#!/usr/bin/env python3
"""Stand-in OTLP/HTTP receiver and a decoder for what it received (otlp_export_test.sh,
otlp_logs_test.sh).

  serve DIR PORT        records each POST (/v1/metrics, /v1/logs, any path) as DIR/NNNNNN.bin
                        (body) and .json (path, headers); answers 200 with an empty
                        Export*ServiceResponse, or as the file DIR/answer says (answer_of)
  metric FILE NAME      prints the named metric of a recorded body as JSON
  resource FILE         prints the resource attributes of a recorded body (metrics or logs)
  logs DIR              prints every LogRecord of DIR's /v1/logs bodies, in the order they
                        came, as JSON lines (log_record_json)

Decoding goes through `protoc --decode_raw`, which knows no schema: it prints field numbers,
and the numbers below are the published OTLP ones (opentelemetry-proto metrics/v1, common/v1,
resource/v1, collector/metrics/v1, logs/v1, collector/logs/v1), not traceiface's .proto
files. decode_raw guesses whether
a length-delimited field is a string or a message; the guess is undone by encoding the
printed fields again (as_bytes), so a trace id that happens to parse as a message still comes
back as its 16 bytes, and the whole body must encode back to itself. (Ids whose first byte is
below 8 never parse as a message: field number 0 does not exist.)
"""
import http.server
import json
import os
import re
import struct
import subprocess
import sys


def answer_of(out_dir, path="/v1/metrics"):
    """DIR/answer, if there, says how to answer: "503" (that status), or "partial N" (200 with
    Export{Metrics,Logs}ServiceResponse.partial_success(1).rejected_{data_points,log_records}(1)
    = N: the same bytes for both). DIR/answer.logs, if there, is for /v1/logs instead."""
    names = ["answer.logs", "answer"] if path.endswith("/v1/logs") else ["answer"]
    words = None
    for name in names:
        try:
            words = open(os.path.join(out_dir, name)).read().split()
            break
        except FileNotFoundError:
            pass
    if not words:
        return 200, b""
    if words[0] == "partial":
        inner = bytes([0x08]) + _varint(int(words[1]))
        return 200, bytes([0x0A]) + _varint(len(inner)) + inner
    return int(words[0]), b"refused by the test"


def serve(out_dir, port):
    # Numbering goes on where an earlier receiver on the same directory stopped.
    seq = [max([int(f[:6]) for f in os.listdir(out_dir) if f.endswith(".bin")], default=0)]

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n)
            seq[0] += 1
            base = os.path.join(out_dir, "%06d" % seq[0])
            meta = {"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}
            with open(base + ".json.tmp", "w") as f:
                json.dump(meta, f)
            with open(base + ".bin.tmp", "wb") as f:
                f.write(body)
            os.rename(base + ".json.tmp", base + ".json")
            os.rename(base + ".bin.tmp", base + ".bin")  # last: a .bin is complete
            status, answer = answer_of(out_dir, self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), H).serve_forever()


# ---- protoc --decode_raw text -> [(field, kind, value)] -------------------------------------
_ESC = {"n": 10, "r": 13, "t": 9, '"': 34, "'": 39, "\\": 92, "a": 7, "b": 8, "f": 12, "v": 11}


def _unescape(s):
    out, i = bytearray(), 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        d = s[i + 1]
        if d in "01234567":
            m = re.match(r"[0-7]{1,3}", s[i + 1:])
            out.append(int(m.group(0), 8))
            i += 1 + len(m.group(0))
        elif d == "x":
            m = re.match(r"[0-9a-fA-F]{1,2}", s[i + 2:])
            out.append(int(m.group(0), 16))
            i += 2 + len(m.group(0))
        else:
            out.append(_ESC[d])
            i += 2
    return bytes(out)


def decode_raw(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = subprocess.run(["protoc", "--decode_raw"], input=raw, capture_output=True,
                          check=True, timeout=30).stdout.decode()
    stack = [[]]
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line == "}":
            done = stack.pop()
            stack[-1][-1] = (stack[-1][-1][0], "msg", done)
            continue
        m = re.match(r"^(\d+) \{$", line)
        if m:
            stack[-1].append((int(m.group(1)), "msg", None))
            stack.append([])
            continue
        m = re.match(r"^(\d+): (.*)$", line)
        num, v = int(m.group(1)), m.group(2)
        if v.startswith('"'):
            stack[-1].append((num, "bytes", _unescape(v[1:-1])))
        elif v.startswith("0x"):
            kind = "fixed64" if len(v) == 18 else "fixed32"
            stack[-1].append((num, kind, int(v, 16)))
        else:
            stack[-1].append((num, "varint", int(v)))
    assert len(stack) == 1, "unbalanced decode_raw output"
    # Encoded again, the fields must give back the very bytes: otherwise decode_raw's guess
    # lost something (it reads a tag of a bytes field taken for a message as 32 bits, so a
    # 5-byte varint loses its top bits) and nothing decoded here could be trusted.
    if _encode(stack[0]) != raw:
        sys.exit("%s: protoc --decode_raw output does not encode back to the body" % path)
    return stack[0]


def _varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _encode(fields):
    out = bytearray()
    for num, kind, v in fields:
        if kind == "varint":
            out += _varint(num << 3 | 0) + _varint(v)
        elif kind == "fixed64":
            out += _varint(num << 3 | 1) + struct.pack("<Q", v)
        elif kind == "fixed32":
            out += _varint(num << 3 | 5) + struct.pack("<I", v)
        else:
            b = v if kind == "bytes" else _encode(v)
            out += _varint(num << 3 | 2) + _varint(len(b)) + b
    return bytes(out)


def as_bytes(node):
    return node[2] if node[1] == "bytes" else _encode(node[2])


def as_msg(node):
    if node[1] == "msg":
        return node[2]
    raise ValueError("field %d: expected a message, got %s" % (node[0], node[1]))


def get(fields, num):
    return [n for n in fields if n[0] == num]


def one(fields, num, default=None):
    g = get(fields, num)
    return g[-1] if g else default


def as_double(node):
    return struct.unpack("<d", struct.pack("<Q", node[2]))[0]


def as_sfixed64(node):
    return struct.unpack("<q", struct.pack("<Q", node[2]))[0]


# ---- OTLP by its published field numbers ----------------------------------------------------
def any_value(av):  # common.v1.AnyValue
    for num, conv in ((1, lambda n: as_bytes(n).decode()), (2, lambda n: bool(n[2])),
                      (3, lambda n: n[2]), (4, as_double)):
        n = one(av, num)
        if n is not None:
            return conv(n)
    return None


def attributes(nodes):  # repeated common.v1.KeyValue {key = 1, value = 2}
    out = {}
    for kv in nodes:
        kv = as_msg(kv)
        out[as_bytes(one(kv, 1)).decode()] = any_value(as_msg(one(kv, 2, (2, "msg", []))))
    return out


def packed(node, fmt):
    b = as_bytes(node)
    return list(struct.unpack("<%d%s" % (len(b) // 8, fmt), b))


def exemplar(e):  # metrics.v1.Exemplar
    e = as_msg(e)
    out = {"attributes": attributes(get(e, 7))}
    if one(e, 2):
        out["time_unix_nano"] = one(e, 2)[2]
    if one(e, 3):
        out["as_double"] = as_double(one(e, 3))
    if one(e, 4):
        out["span_id"] = as_bytes(one(e, 4)).hex()
    if one(e, 5):
        out["trace_id"] = as_bytes(one(e, 5)).hex()
    return out


def number_point(p):  # metrics.v1.NumberDataPoint
    p = as_msg(p)
    out = {"attributes": attributes(get(p, 7)),
           "exemplars": [exemplar(e) for e in get(p, 5)]}
    for num, key in ((2, "start_time_unix_nano"), (3, "time_unix_nano")):
        if one(p, num):
            out[key] = one(p, num)[2]
    if one(p, 4):
        out["as_double"] = as_double(one(p, 4))
    if one(p, 6):
        out["as_int"] = as_sfixed64(one(p, 6))
    return out


def histogram_point(p):  # metrics.v1.HistogramDataPoint
    p = as_msg(p)
    out = {"attributes": attributes(get(p, 9)),
           "exemplars": [exemplar(e) for e in get(p, 8)],
           "count": one(p, 4)[2] if one(p, 4) else 0,
           "bucket_counts": [], "explicit_bounds": []}
    for num, key in ((2, "start_time_unix_nano"), (3, "time_unix_nano")):
        if one(p, num):
            out[key] = one(p, num)[2]
    if one(p, 5):
        out["sum"] = as_double(one(p, 5))
    for n in get(p, 6):  # packed (proto3 default), or one fixed64 per element
        out["bucket_counts"] += packed(n, "Q") if n[1] != "fixed64" else [n[2]]
    for n in get(p, 7):
        out["explicit_bounds"] += packed(n, "d") if n[1] != "fixed64" else [as_double(n)]
    return out


def metrics(req):
    # ExportMetricsServiceRequest.resource_metrics(1) -> ResourceMetrics.scope_metrics(2)
    # -> ScopeMetrics.metrics(2)
    for rm in get(req, 1):
        for sm in get(as_msg(rm), 2):
            for m in get(as_msg(sm), 2):
                yield as_msg(m)


def metric_json(m):
    out = {"name": as_bytes(one(m, 1)).decode(),
           "unit": as_bytes(one(m, 3)).decode() if one(m, 3) else ""}
    if one(m, 7):  # Sum {data_points 1, aggregation_temporality 2, is_monotonic 3}
        s = as_msg(one(m, 7))
        out.update(type="sum", aggregation_temporality=one(s, 2, (0, 0, 0))[2],
                   is_monotonic=bool(one(s, 3, (0, 0, 0))[2]),
                   data_points=[number_point(p) for p in get(s, 1)])
    elif one(m, 5):  # Gauge {data_points 1}
        out.update(type="gauge", data_points=[number_point(p) for p in get(as_msg(one(m, 5)), 1)])
    elif one(m, 9):  # Histogram {data_points 1, aggregation_temporality 2}
        h = as_msg(one(m, 9))
        out.update(type="histogram", aggregation_temporality=one(h, 2, (0, 0, 0))[2],
                   data_points=[histogram_point(p) for p in get(h, 1)])
    else:
        out["type"] = "other"
    return out


def log_record_json(r):  # logs.v1.LogRecord
    r = as_msg(r)
    out = {"attributes": attributes(get(r, 6))}
    for num, key in ((1, "time_unix_nano"), (11, "observed_time_unix_nano")):
        out[key] = one(r, num)[2] if one(r, num) else 0
    out["severity_number"] = one(r, 2)[2] if one(r, 2) else 0
    for num, key in ((3, "severity_text"), (12, "event_name")):
        out[key] = as_bytes(one(r, num)).decode() if one(r, num) else ""
    body = one(r, 5)
    out["body"] = any_value(as_msg(body)) if body else None
    for num, key in ((9, "trace_id"), (10, "span_id")):
        out[key] = as_bytes(one(r, num)).hex() if one(r, num) else ""
    return out


def log_records(req):
    # ExportLogsServiceRequest.resource_logs(1) -> ResourceLogs.scope_logs(2)
    # -> ScopeLogs.log_records(2); the scope's name is InstrumentationScope.name(1)
    for rl in get(req, 1):
        for sl in get(as_msg(rl), 2):
            sl = as_msg(sl)
            scope = as_bytes(one(as_msg(one(sl, 1)), 1)).decode() if one(sl, 1) else ""
            for r in get(sl, 2):
                yield scope, r


def logs_of_dir(out_dir):
    for f in sorted(os.listdir(out_dir)):
        if not f.endswith(".bin"):
            continue
        meta = json.load(open(os.path.join(out_dir, f[:-4] + ".json")))
        if not meta["path"].endswith("/v1/logs"):
            continue
        for scope, r in log_records(decode_raw(os.path.join(out_dir, f))):
            out = log_record_json(r)
            out.update(scope=scope, file=f)
            yield out


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif cmd == "metric":
        req = decode_raw(sys.argv[2])
        found = [metric_json(m) for m in metrics(req)
                 if as_bytes(one(m, 1)).decode() == sys.argv[3]]
        print(json.dumps(found[0] if found else None))
    elif cmd == "resource":
        req = decode_raw(sys.argv[2])
        # ResourceMetrics.resource(1) -> Resource.attributes(1)
        rm = as_msg(get(req, 1)[0])
        print(json.dumps(attributes(get(as_msg(one(rm, 1, (1, "msg", []))), 1))))
    elif cmd == "logs":
        for r in logs_of_dir(sys.argv[2]):
            print(json.dumps(r))
    elif cmd == "names":
        print(json.dumps([as_bytes(one(m, 1)).decode() for m in metrics(decode_raw(sys.argv[2]))]))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()

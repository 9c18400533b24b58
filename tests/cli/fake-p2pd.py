#!/usr/bin/env python3
"""fake-p2pd.py SOCKET - a hostile p2pd for p2pctl's renderers.

Every string it sends carries what must never reach a terminal raw: an escape
sequence, CR/LF that would forge a table row, BEL, a C1 control (CSI) and a
backslash.  Serves connections one after the other until killed.
"""
import json
import os
import socket
import struct
import sys

HDR = struct.Struct("=BBHIQ")  # version, opcode, flags, len, id
REPLY = 2
EVIL = "ev\x1b[31mil\r\nforged row\x07\x9b2J\\x1b"


def body(op):
    if op == 1:  # hello
        return {"version": 1, "server": "p2pd " + EVIL, "features": [], "uid": 0,
                "gid": 0, "pid": 1, "admin": True, "max_message_size": 65536,
                "chunk": 61440}
    if op == 16:  # clients
        return {"clients": [{"id": 1, "pid": 2, "uid": 3, "gid": 4, "admin": False,
                             "buffers": 0, "bytes": 0, "requests": 1, "name": EVIL}]}
    if op == 17:  # buffers
        return {"buffers": [{"id": 7, "type": "host" + EVIL, "backend": EVIL,
                             "provider": None, "size": 4096, "name": EVIL,
                             "client": 1, "uid": 3, "pid": 2, "peers": []}]}
    if op == 20:  # stats
        return {"stats": {"uptime_s": 1, EVIL: EVIL}}
    return None


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    srv.bind(path)
    srv.listen(4)
    while True:
        conn, _ = srv.accept()
        with conn:
            while True:
                msg = conn.recv(70000)
                if len(msg) < HDR.size:
                    break
                _, op, _, _, rid = HDR.unpack_from(msg)
                b = body(op)
                if b is None:
                    b = {"ok": False, "errno": 22, "code": "EINVAL", "message": "no " + EVIL}
                else:
                    b["ok"] = True
                payload = json.dumps(b).encode()
                conn.send(HDR.pack(1, op, REPLY, len(payload), rid) + payload)


if __name__ == "__main__":
    main()

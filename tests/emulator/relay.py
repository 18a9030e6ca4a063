"""Runs as PID 1 of nothing in particular: the process that owns a private network + mount namespace.

Started as ``unshare -mn -- python relay.py HOSTS UNIX_SOCKET``. It bind-mounts HOSTS over /etc/hosts,
brings ``lo`` up, listens on 127.0.0.1:443 and pipes every connection to the emulator's Unix socket
(the emulator itself runs in the test process, outside the namespace). Exits when stdin closes.
Standalone on purpose (stdlib only, no package imports).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading


def _pump(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _serve_one(conn: socket.socket, unix_path: str) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(unix_path)
    except OSError:
        conn.close()
        return
    back = threading.Thread(target=_pump, args=(upstream, conn), daemon=True)
    back.start()
    _pump(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


def _watch_parent() -> None:
    sys.stdin.read()
    os._exit(0)


def main(hosts: str, unix_path: str) -> None:
    subprocess.run(["mount", "--bind", hosts, "/etc/hosts"], check=True)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 443))
    listener.listen(128)
    threading.Thread(target=_watch_parent, daemon=True).start()
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(conn, unix_path), daemon=True).start()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

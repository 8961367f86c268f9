"""A loopback TCP proxy between a browser and a Parley server, for the browser tests.

The browser's origin is the proxy's port, so it survives a server restart (the server comes back
on another free port: retarget()), and cut() drops every connection and refuses new ones until
restore(): a network failure for one browser only. Bytes pass unchanged (HTTP and WebSocket).
"""
import select
import socket
import threading

ACCEPT_POLL_S = 0.2
BUFFER = 65536


class Proxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(ACCEPT_POLL_S)
        self.port = self.listener.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.blocked = False
        self.stopped = False
        self.lock = threading.Lock()
        self.live = set()  # sockets of open connections, both sides
        self.thread = threading.Thread(target=self._accept_loop, name=f"proxy-{self.port}", daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopped:
            try:
                client, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.blocked:
                client.close()  # the network is down: nothing gets through
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.live.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a, b):
        """Copies both ways until either side closes (or cut() closes them)."""
        try:
            while not self.stopped:
                ready, _, _ = select.select([a, b], [], [], 1.0)
                for src in ready:
                    data = src.recv(BUFFER)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            pass
        finally:
            self._close(a, b)

    def _close(self, *socks):
        with self.lock:
            for s in socks:
                self.live.discard(s)
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut(self):
        """Drops every open connection and refuses new ones until restore()."""
        self.blocked = True
        with self.lock:
            socks = list(self.live)
        self._close(*socks)

    def restore(self):
        self.blocked = False

    def retarget(self, upstream_port: int):
        self.upstream_port = upstream_port

    def close(self):
        self.stopped = True
        self.cut()
        self.listener.close()
        self.thread.join(2)

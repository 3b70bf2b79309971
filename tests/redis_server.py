"""A real redis-server (Debian's package) for the revocation tests, on a free loopback port in a
temp dir, and a Sentinel set of them (a primary, a replica, a sentinel: the same binary with
``--sentinel``). Tests skip, saying why, when it is absent, unless CI_REQUIRE_REDIS=1 (CI sets
it)."""

import os
import shutil
import signal
import socket
import subprocess

import pytest
import redis

from .helpers import eventually, free_port

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
)


def require_redis_server():
    if REDIS_SERVER is None:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("CI_REQUIRE_REDIS=1 but redis-server is not installed")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")


class RedisServer:
    """One redis-server; ``persist`` turns on the append-only file, so a restart keeps the data.
    ``args``: more options (``--replicaof``, ``--requirepass``...)."""

    def __init__(self, directory, persist=False, args=()):
        require_redis_server()
        self.directory = directory
        self.persist = persist
        self.args = list(args)
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, until_loaded=True):
        """Start it and wait until it answers; ``until_loaded=False``: until it answers at all,
        if only ``LOADING`` (its data still being read)."""
        up = (b"+PONG", b"-NOAUTH") if until_loaded else (b"+PONG", b"-NOAUTH", b"-LOADING")
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.directory),
                "--save", "",
                "--appendonly", "yes" if self.persist else "no",
                "--appendfsync", "always",
                "--logfile", str(self.directory / "redis.log"),
                *self.args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if eventually(lambda: self._answers(up), timeout=10):
            return self
        self.stop()
        raise RuntimeError("redis-server did not start")

    def _answers(self, up):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(up)
        except OSError:
            return False

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGCONT)
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None

    def kill(self):
        """Kill it at once (SIGKILL): what a crashed host looks like to the others."""
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=5)

    def restart(self):
        self.stop()
        return self.start()

    def pause(self):
        """Freeze the server: connections stay open and nothing answers (a slow Redis)."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


class SentinelSet:
    """A primary, a replica of it and one sentinel watching them (quorum 1, a primary down after
    ``down_after`` ms), each a real redis-server in its own directory under ``directory``."""

    SERVICE = "primary"

    def __init__(self, directory, down_after=1000):
        require_redis_server()
        dirs = [directory / name for name in ("one", "two", "sentinel")]
        for d in dirs:
            d.mkdir()
        # A diskless full sync waits 5 s for more replicas by default: none come.
        quick = ["--repl-diskless-sync-delay", "0"]
        self.primary = RedisServer(dirs[0], args=quick).start()
        self.replica = RedisServer(
            dirs[1], args=[*quick, "--replicaof", "127.0.0.1", str(self.primary.port)]
        ).start()
        self.port = free_port()
        conf = dirs[2] / "sentinel.conf"  # a sentinel rewrites its file: one of its own
        conf.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {dirs[2]}\nlogfile {dirs[2] / 'log'}\n"
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.primary.port} 1\n"
            f"sentinel down-after-milliseconds {self.SERVICE} {down_after}\n"
            f"sentinel failover-timeout {self.SERVICE} 10000\n"
            # Known from the start (else the sentinel learns of it from the primary's INFO,
            # seconds later).
            f"sentinel known-replica {self.SERVICE} 127.0.0.1 {self.replica.port}\n"
        )
        self.sentinel = subprocess.Popen(
            [REDIS_SERVER, str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.servers = [self.primary, self.replica]

    @property
    def url(self):
        return f"redis+sentinel://127.0.0.1:{self.port}/{self.SERVICE}"

    def sentinel_client(self):
        return redis.Redis(port=self.port, socket_timeout=5)

    def ready(self):
        """Whether the sentinel knows the primary and its replica (so it can fail over)."""
        try:
            replicas = self.sentinel_client().sentinel_slaves(self.SERVICE)
            link = self.replica.client().info("replication").get("master_link_status")
        except redis.RedisError:
            return False
        return link == "up" and any(r.get("port") == self.replica.port for r in replicas)

    def primary_port(self):
        """The port of the primary as the sentinel names it now."""
        # The raw command: redis-py 7.0's sentinel_get_master_addr_by_name fails on a plain
        # client (it passes its ``once`` option on to the reply's parser).
        reply = self.sentinel_client().execute_command(
            "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE
        )
        return int(reply[1])

    def stop(self):
        if self.sentinel.poll() is None:
            self.sentinel.terminate()
            self.sentinel.wait(10)
        for server in self.servers:
            server.stop()

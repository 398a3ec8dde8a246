"""Throwaway Redis deployments on loopback ports: a three-master Cluster, and a master, a replica and a
Sentinel. The storage and dialog suites run on the cluster; the Sentinel test fails a master over."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """Ports whose cluster-bus twins (port + 10000) are free as well."""
    ports: list[int] = []
    while len(ports) < count:
        port = random.randint(21000, 29000)
        if port not in ports and _free(port) and _free(port + 10000):
            ports.append(port)
    return ports


def cli(port: int, *args: str) -> str:
    result = subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(port), *args],
                            capture_output=True, text=True, timeout=10)
    return result.stdout.strip()


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout:.0f} s")


class _Servers:
    def __init__(self, count: int, name: str) -> None:
        self.ports = _ports(count)
        self.dir = Path(tempfile.mkdtemp(prefix=f"hb-{name}-"))
        self.processes: list[subprocess.Popen[bytes]] = []
        self.server = shutil.which("redis-server") or ""
        if not self.server or not shutil.which("redis-cli"):
            raise RuntimeError("redis-server and redis-cli are needed for these tests (apt-get install redis)")

    def spawn(self, port: int, *args: str, config: str = "") -> None:
        node = self.dir / str(port)
        node.mkdir()
        command = [self.server]
        if config:  # Sentinel rewrites its config file, so it needs one of its own
            (node / "redis.conf").write_text(config)
            command.append(str(node / "redis.conf"))
        self.processes.append(subprocess.Popen(
            [*command, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node), "--save", "",
             "--appendonly", "no", "--logfile", str(node / "log"), *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: cli(port, "PING") == "PONG", f"redis on port {port} answering")

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


class LocalCluster(_Servers):
    def __init__(self, masters: int = 3) -> None:
        super().__init__(masters, "cluster")

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> LocalCluster:
        for port in self.ports:
            self.spawn(port, "--cluster-enabled", "yes", "--cluster-config-file", str(self.dir / f"{port}.conf"))
        subprocess.run(
            [shutil.which("redis-cli") or "redis-cli", "--cluster", "create",
             *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=30)
        for port in self.ports:
            wait_until(lambda port=port: "cluster_state:ok" in cli(port, "CLUSTER", "INFO"), "cluster state ok")
        return self

    def node_of(self, key: str) -> int:
        """The port of the master that holds the key's slot."""
        slot = int(cli(self.ports[0], "CLUSTER", "KEYSLOT", key))
        return next(port for port in self.ports if self._owns(port, slot))

    @staticmethod
    def _owns(port: int, slot: int) -> bool:
        myself = next(line for line in cli(port, "CLUSTER", "NODES").splitlines() if "myself" in line)
        for part in myself.split()[8:]:
            low, _, high = part.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return True
        return False


class LocalSentinel(_Servers):
    """A master, one replica and one Sentinel (quorum 1) watching them as "hb"."""

    SERVICE = "hb"

    def __init__(self) -> None:
        super().__init__(3, "sentinel")
        self.master, self.replica, self.sentinel = self.ports

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel}/{self.SERVICE}/0"

    def start(self) -> LocalSentinel:
        self.spawn(self.master)
        self.spawn(self.replica, "--replicaof", "127.0.0.1", str(self.master))
        self.spawn(self.sentinel, "--sentinel", config=(
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.master} 1\n"
            f"sentinel down-after-milliseconds {self.SERVICE} 1000\n"
            f"sentinel failover-timeout {self.SERVICE} 5000\n"))
        wait_until(lambda: "master_link_status:up" in cli(self.replica, "INFO", "replication"), "replication up")
        wait_until(lambda: "slaves=1" in cli(self.sentinel, "INFO", "sentinel"), "Sentinel seeing the replica")
        return self

    def current_master(self) -> int:
        return int(cli(self.sentinel, "SENTINEL", "get-master-addr-by-name", self.SERVICE).split()[1])

    def kill_master(self) -> int:
        """SIGKILL the master and wait for Sentinel to promote the replica; the port of the new master."""
        old = self.current_master()
        replica = self.replica if old == self.master else self.master
        # The replica has every acknowledged write (replication is asynchronous). WAIT on a connection of its
        # own would wait for that connection's writes only, none: compare the offsets instead.
        wanted = _offset(cli(old, "INFO", "replication"), "master_repl_offset")
        wait_until(lambda: _offset(cli(replica, "INFO", "replication"), "slave_repl_offset") >= wanted,
                   "the replica catching up")
        self.processes[self.ports.index(old)].kill()
        wait_until(lambda: self.current_master() != old, "Sentinel promoting the replica")
        new = self.current_master()
        wait_until(lambda: "role:master" in cli(new, "INFO", "replication"), "the new master taking writes")
        return new


def _offset(info: str, field: str) -> int:
    return int(next((line.split(":", 1)[1] for line in info.splitlines() if line.startswith(field + ":")), "-1"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(data: Path, port: int) -> subprocess.Popen[bytes]:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    return subprocess.Popen([server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data),
                             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
                            stdout=subprocess.DEVNULL)

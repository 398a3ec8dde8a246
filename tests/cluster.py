"""A throwaway three-master Redis Cluster on loopback ports, for running the storage and dialog suites on it."""

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


class LocalCluster:
    def __init__(self, masters: int = 3) -> None:
        self.ports = _ports(masters)
        self.dir = Path(tempfile.mkdtemp(prefix="hb-cluster-"))
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> LocalCluster:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if not server or not cli:
            raise RuntimeError("redis-server and redis-cli are needed for the cluster tests (apt-get install redis)")
        for port in self.ports:
            node = self.dir / str(port)
            node.mkdir()
            self.processes.append(subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", str(node / "nodes.conf"), "--dir", str(node), "--save", "",
                 "--appendonly", "no", "--logfile", str(node / "log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            self._wait(lambda port=port: self._cli(port, "PING") == "PONG")
        subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports), "--cluster-replicas", "0",
             "--cluster-yes"], check=True, capture_output=True, timeout=30)
        for port in self.ports:
            self._wait(lambda port=port: "cluster_state:ok" in self._cli(port, "CLUSTER", "INFO"))
        return self

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def node_of(self, key: str) -> int:
        """The port of the master that holds the key's slot."""
        slot = int(self._cli(self.ports[0], "CLUSTER", "KEYSLOT", key))
        return next(port for port in self.ports if self._owns(port, slot))

    def _owns(self, port: int, slot: int) -> bool:
        myself = next(line for line in self._cli(port, "CLUSTER", "NODES").splitlines() if "myself" in line)
        for part in myself.split()[8:]:
            low, _, high = part.partition("-")
            if low.isdigit() and int(low) <= slot <= int(high or low):
                return True
        return False

    def _cli(self, port: int, *args: str) -> str:
        result = subprocess.run([shutil.which("redis-cli") or "redis-cli", "-p", str(port), *args],
                                capture_output=True, text=True, timeout=10)
        return result.stdout.strip()

    @staticmethod
    def _wait(ready: Callable[[], bool], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.05)
        raise TimeoutError("the local Redis Cluster did not come up")

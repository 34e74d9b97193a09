"""Ray nodes started and stopped by a test, on this machine: `ray start --block` in its own process
group (the GCS, raylet and agents it starts stay in that group; Ray's workers each get a group of
their own), stopped by killing the group of the pid the test started and every process under it. Each node gets its own temp dir and free ports, so it touches neither
/tmp/ray nor another engineer's Ray. Token authentication as on a real cluster: RAY_AUTH_MODE=token
and a token of the test's own in the environment of every node and driver (README)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

RAY = str(Path(sys.executable).with_name("ray"))
ENV = {**{k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "AUTOPHAGY_FAULTS")},
       "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Node:
    def __init__(self, cpus: float, head_address: str | None = None, resources: str | None = None,
                 env: dict[str, str] | None = None):
        """`env`: added to ENV for this node's processes (its raylet, GCS and workers)."""
        self.temp = tempfile.mkdtemp(prefix="rn", dir="/tmp")  # short: socket paths must fit 107 bytes
        gcs, agent, grpc, metrics, runtime_env, manager, objects, client, dashboard = _free_ports(9)
        args = [RAY, "start", "--block", f"--num-cpus={cpus:g}", "--disable-usage-stats",
                f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={grpc}",
                f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={runtime_env}",
                f"--node-manager-port={manager}", f"--object-manager-port={objects}"]
        if resources:
            args.append(f"--resources={resources}")
        if head_address is None:
            args += ["--head", f"--port={gcs}", "--include-dashboard=false", f"--temp-dir={self.temp}",
                     f"--ray-client-server-port={client}", f"--dashboard-port={dashboard}"]  # not 10001, 8265
            self.address = f"127.0.0.1:{gcs}"
        else:
            args += [f"--address={head_address}"]
            self.address = head_address
        self.log = open(Path(self.temp) / "start.log", "w")
        self.process = subprocess.Popen(args, env={**ENV, **(env or {})}, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def stop(self, sig=signal.SIGTERM) -> None:
        """Kill the node's process group; SIGKILL after 10 s (SIGKILL at once: a lost node). Then
        SIGKILL what is left of the processes under it: Ray's workers, in groups of their own,
        would go on computing for seconds after their raylet died."""
        try:
            family = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        for process in family:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)
        self.log.close()
        subprocess.run(["rm", "-rf", self.temp], check=False)


def wait_for_cpus(address: str, cpus: float, timeout: float = 120) -> None:
    """Until the cluster at `address` offers `cpus` CPUs (every node has joined)."""
    probe = (f"import ray, sys; ray.init(address='{address}', logging_level='ERROR'); "
             f"sys.exit(0 if ray.cluster_resources().get('CPU', 0) >= {cpus} else 1)")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, timeout=60).returncode == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"the Ray cluster at {address} never offered {cpus} CPUs")


def node_ids(address: str) -> dict[str, bool]:
    """The live nodes of the cluster at `address`: Ray node id -> whether it is the head."""
    probe = (f"import json, ray; ray.init(address='{address}', logging_level='ERROR'); "
             "print(json.dumps({n['NodeID']: 'node:__internal_head__' in n['Resources'] "
             "for n in ray.nodes() if n['Alive']}))")
    done = subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])

"""Ray nodes started and stopped by a test, on this machine: `ray start --block` in its own process
group (the GCS, raylet and workers it starts stay in that group), stopped by killing the group of
the pid the test started. Each node gets its own temp dir and free ports, so it touches neither
/tmp/ray nor another engineer's Ray. Token authentication as on a real cluster: RAY_AUTH_MODE=token
and a token of the test's own in the environment of every node and driver (README)."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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
    def __init__(self, cpus: float, head_address: str | None = None, resources: str | None = None):
        self.temp = tempfile.mkdtemp(prefix="rn", dir="/tmp")  # short: socket paths must fit 107 bytes
        gcs, agent, grpc, metrics, runtime_env, manager, objects = _free_ports(7)
        args = [RAY, "start", "--block", f"--num-cpus={cpus:g}", "--disable-usage-stats",
                f"--dashboard-agent-listen-port={agent}", f"--dashboard-agent-grpc-port={grpc}",
                f"--metrics-export-port={metrics}", f"--runtime-env-agent-port={runtime_env}",
                f"--node-manager-port={manager}", f"--object-manager-port={objects}"]
        if resources:
            args.append(f"--resources={resources}")
        if head_address is None:
            args += ["--head", f"--port={gcs}", "--include-dashboard=false", f"--temp-dir={self.temp}"]
            self.address = f"127.0.0.1:{gcs}"
        else:
            args += [f"--address={head_address}"]
            self.address = head_address
        self.log = open(Path(self.temp) / "start.log", "w")
        self.process = subprocess.Popen(args, env=ENV, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def stop(self, sig=signal.SIGTERM) -> None:
        """Kill the node's process group; SIGKILL after 10 s (SIGKILL at once: a lost node)."""
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
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

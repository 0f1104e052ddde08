"""Processes the harness starts: gunicorn under the production configuration, a moto S3 server."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "services" / "common" / "gunicorn_conf.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def memory_mb(pid: int) -> dict[str, float] | None:
    """RSS, PSS (shared pages split between the processes sharing them) and private (USS) memory."""
    try:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
    except (OSError, ValueError):
        return None
    return {"rss": round(fields.get("Rss", 0), 1), "pss": round(fields.get("Pss", 0), 1),
            "private": round(fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0), 1)}


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process from /proc/<pid>/stat (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry.name))
    return sorted(kids)


class Gunicorn:
    """`gunicorn -c services/common/gunicorn_conf.py APP` on 127.0.0.1:<free port>, WEB_CONCURRENCY workers."""

    def __init__(self, app_spec: str, env: dict[str, str] | None = None, workers: int = 2,
                 log_dir: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app_spec = app_spec
        prom = tempfile.mkdtemp(prefix="bench-prom-")
        self.env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": prom, **(env or {}), "HOST": "127.0.0.1",
                    "PORT": str(self.port), "WEB_CONCURRENCY": str(workers), "PYTHONUNBUFFERED": "1"}
        self.log_path = (log_dir or Path(tempfile.gettempdir())) / f"gunicorn-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> "Gunicorn":
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.log = open(self.log_path, "w")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen([gunicorn, "-c", str(GUNICORN_CONF), self.app_spec], cwd=ROOT, env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, path: str, timeout: float = 90, interval: float = 0.02) -> float:
        """Seconds from process start until `path` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.app_spec} exited with {self.proc.returncode}; see {self.log_path}")
            if http_status(self.url + path, timeout=5) == 200:
                return time.perf_counter() - self.started_at
            time.sleep(interval)
        raise TimeoutError(f"{self.app_spec}: {path} not 200 after {timeout}s; see {self.log_path}")

    def worker_memory_mb(self) -> list[dict[str, float]]:
        return [m for m in (memory_mb(pid) for pid in children(self.proc.pid)) if m is not None]

    def worker_cpu_seconds(self) -> float:
        """User + system CPU seconds of the workers so far (the master only supervises)."""
        return sum(cpu_seconds(pid) for pid in children(self.proc.pid))

    def worker_rss_mb(self) -> list[float]:
        return [r for r in (rss_mb(pid) for pid in children(self.proc.pid)) if r is not None]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> "Gunicorn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Moto:
    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Moto":
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

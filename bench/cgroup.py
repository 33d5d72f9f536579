"""A container's CPU time and memory from its cgroup, read on the host (cgroup v1 or v2).

CPU per request comes from here: the cgroup counts every process of the container (master, workers,
their threads) and only them, so the figure stays steady on a machine others are loading, where
requests per second do not. Beside it, machine_busy_seconds: the whole machine's busy CPU, whose
share per request bounds what the cores can serve at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.common import run

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class ContainerCgroup:
    cpu_file: Path  # v1 cpuacct.usage (ns) or v2 cpu.stat (usage_usec)
    memory_stat: Path  # v1 total_rss or v2 anon: the container's anonymous memory, its RSS
    procs: Path  # cgroup.procs: the container's processes, for their proportional set size (Pss)

    @classmethod
    def of(cls, container: str) -> ContainerCgroup:
        pid = run(["docker", "inspect", "-f", "{{.State.Pid}}", container]).stdout.strip()
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        paths = {}
        for line in lines:
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path.lstrip("/")
        if "cpuacct" in paths:  # v1
            cpu_dir = next(d for d in ("cpuacct", "cpu,cpuacct") if (CGROUP_ROOT / d).is_dir())
            return cls(
                CGROUP_ROOT / cpu_dir / paths["cpuacct"] / "cpuacct.usage",
                CGROUP_ROOT / "memory" / paths["memory"] / "memory.stat",
                CGROUP_ROOT / "memory" / paths["memory"] / "cgroup.procs",
            )
        unified = CGROUP_ROOT / paths[""]
        return cls(unified / "cpu.stat", unified / "memory.stat", unified / "cgroup.procs")

    def cpu_seconds(self) -> float:
        text = self.cpu_file.read_text()
        if self.cpu_file.name == "cpuacct.usage":
            return int(text) / 1e9
        usage = next(line for line in text.splitlines() if line.startswith("usage_usec "))
        return int(usage.split()[1]) / 1e6

    def rss_mb(self) -> float:
        stats = dict(line.split() for line in self.memory_stat.read_text().splitlines())
        return int(stats.get("total_rss", stats.get("anon", "0"))) / 2**20

    def pss_mb(self) -> float:
        """The summed Pss of the container's processes: a page the preloaded master shares with its
        workers counts once (split among them), not once per process as summed RSS would."""
        total_kib = 0
        for pid in self.procs.read_text().split():
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited meanwhile
            total_kib += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
        return total_kib / 1024


def machine_busy_seconds(stat: Path = Path("/proc/stat")) -> float:
    """CPU time the whole machine spent busy, all cores, at normal priority or higher.

    With the container's own counter this gives the machine's CPU per request: the container plus
    wrk, PostgreSQL and the kernel's loopback traffic, which decides how many requests per second the
    cores can serve at all. Time at a positive nice level (other work told to yield) is left out.
    """
    fields = stat.read_text().splitlines()[0].split()[1:]
    user, _nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")

"""Wall time and CPU seconds of a command and every process it starts (JVMs, servers, cluster daemons).

On a shared machine wall times depend on the other work; the CPU a test run costs does not, and on 2 cores
it is what decides the suite's time. Polls /proc twice a second (Linux), so a process living under half a
second may be missed.

    python -m benchmarks.tree_cpu .venv/bin/python -m pytest tests/integration/test_data_root.py -q
"""
from __future__ import annotations

import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, int, float]]:
    """pid -> (parent pid, start time, user + system CPU seconds) of every process."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = open(f"/proc/{name}/stat").read()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (command) "
        found[int(name)] = (int(fields[1]), int(fields[19]), (int(fields[11]) + int(fields[12])) / TICK)
    return found


def main(command: list[str]) -> int:
    start = time.monotonic()
    child = subprocess.Popen(command)
    tree, cpu = {child.pid}, {}  # cpu: (pid, start time) -> last CPU seconds seen
    while child.poll() is None:
        now = processes()
        grown = True
        while grown:
            new = {pid for pid, (parent, _, _) in now.items() if parent in tree and pid not in tree}
            tree |= new
            grown = bool(new)
        for pid in tree & now.keys():
            cpu[(pid, now[pid][1])] = now[pid][2]
        time.sleep(0.5)
    print(f"tree_cpu: wall {time.monotonic() - start:.0f} s, CPU {sum(cpu.values()):.0f} s "
          f"({len(cpu)} processes), exit code {child.returncode}", file=sys.stderr)
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

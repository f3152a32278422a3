#!/usr/bin/env python3
"""What the bench programs share: a real local cluster (scripts/test-cluster), an application
file, a stand-in systemctl that timestamps each call, the sidecar, and the failover they time.
Not a benchmark itself; bench/sidecar.py, fleet.py, network.py and soak.py import it.
"""
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("PGFOLLOW_BIN", os.path.join(ROOT, ".build/release/pgfollow"))
CLUSTER = os.path.join(ROOT, "scripts/test-cluster")


def pg_bin():
    """The server binaries' directory, as scripts/test-cluster picks it."""
    return cluster("bin").strip()


def as_postgres(argv):
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + argv


def cluster(*args):
    return subprocess.run([CLUSTER, *args], check=True, capture_output=True, text=True).stdout


def psql(work, node, sql):
    return cluster("sql", f"{work}/cluster", node, sql).strip()


class Setup:
    """A cluster, an application file, a stand-in systemctl that timestamps each call."""

    def __init__(self, nodes=2):
        self.work = tempfile.mkdtemp(prefix="pgfollow-bench-")
        os.chmod(self.work, 0o755)
        cluster("start", f"{self.work}/cluster", str(nodes))
        self.nodes = [f"node{i}" for i in range(1, nodes + 1)]
        shutil.copy(f"{ROOT}/examples/app.yaml", f"{self.work}/app.yaml")
        with open(f"{self.work}/systemctl", "w") as f:
            f.write('#!/bin/sh\necho "$(date +%s.%N) $*" >> "$(dirname "$0")/restarts.log"\n')
        os.chmod(f"{self.work}/systemctl", 0o755)
        self.extra = []
        self.processes = []

    def port(self, node):
        return open(f"{self.work}/cluster/{node}.port").read().strip()

    def config(self, run="", set_standby=False):
        lines = ["nodes:"]
        for node in self.nodes:
            lines += [f"  - name: {node}",
                      f"    conninfo: host=127.0.0.1 port={self.port(node)} dbname=pg_state user=postgres",
                      f"    address: {node}:5432"]
        for name, port in self.extra:
            lines += [f"  - name: {name}",
                      f"    conninfo: host=127.0.0.1 port={port} dbname=pg_state user=postgres",
                      f"    address: {name}:5432"]
        lines += ["app:", "  file: app.yaml", "  set:", '    db_master[0].address: "{leader.address}"']
        if set_standby:
            lines.append('    db_slave[0].address: "{standby.address}"')
        lines += ["restart:", "  units: shop.service", "  systemctl: ./systemctl",
                  "state_directory: state"]
        if run:
            lines += ["run:"] + [f"  {line}" for line in run.strip().splitlines()]
        path = f"{self.work}/pgfollow.yaml"
        open(path, "w").write("\n".join(lines) + "\n")
        return path

    def restarts(self):
        try:
            return [float(line.split()[0]) for line in open(f"{self.work}/restarts.log")]
        except FileNotFoundError:
            return []

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        cluster("stop", f"{self.work}/cluster")
        shutil.rmtree(self.work, ignore_errors=True)


def start_sidecar(setup, config, level="info"):
    log = open(f"{setup.work}/run.log", "w")
    process = subprocess.Popen([BINARY, "run", "-c", config, "--log-level", level],
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    setup.processes.append(process)
    return process


def stop(process):
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)


def wait_for(condition, seconds, every=0.01):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def rebuild_standby(setup, node, primary):
    cluster("rebuild", f"{setup.work}/cluster", node, primary)


def promote(setup, node):
    cluster("promote-only", f"{setup.work}/cluster", node)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def crash_failover_latencies(failovers):
    """Commit of the new failover_log row -> restart command, at interval 1 s."""
    setup = Setup()
    try:
        sidecar = start_sidecar(setup, setup.config())
        assert wait_for(lambda: "leader node1" in open(f"{setup.work}/run.log").read(), 20), \
            "the sidecar did not start"
        primary, standby = "node1", "node2"
        latencies = []
        for _ in range(failovers):
            time.sleep(random.uniform(2.2, 3.2))  # past the restart spacing, at a random phase
            cluster("kill", f"{setup.work}/cluster", primary)
            promote(setup, standby)
            time.sleep(random.uniform(0, 1))  # the failover tool's own delay before recording
            before = len(setup.restarts())
            committed = float(psql(setup.work, standby,
                "insert into failover_log values (extract(epoch from now())::int, "
                f"'{standby}') returning extract(epoch from clock_timestamp())"))
            assert wait_for(lambda: len(setup.restarts()) > before, 15), "no restart"
            latencies.append(setup.restarts()[-1] - committed)
            rebuild_standby(setup, primary, standby)
            primary, standby = standby, primary
        stop(sidecar)
        return latencies
    finally:
        setup.close()


def proc_stats(pid):
    status = open(f"/proc/{pid}/status").read()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    anon = int(re.search(r"RssAnon:\s+(\d+)", status).group(1))
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, anon, cpu, fds



def node_processes(cluster_dir, node):
    """The postmaster of `node` and its children; none if it is not running."""
    try:
        postmaster = int(open(f"{cluster_dir}/{node}/postmaster.pid").readline())
    except (FileNotFoundError, ValueError):
        return []
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True)
    return [postmaster] + [int(pid) for pid in children.stdout.split()]


def signal_all(pids, number):
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            pass


def free_port():
    """A free port, picked as scripts/test-cluster picks the nodes' (below the ephemeral range)."""
    return int(cluster("free-port").strip())

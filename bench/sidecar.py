#!/usr/bin/env python3
"""Benchmarks of pgfollow against a real local cluster (scripts/test-cluster).

Run from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/sidecar.py [--failovers 20] [--cycles 10000] [--only NAME ...]
It prints Markdown tables for BENCHMARKS.md. Everything runs on 127.0.0.1 and stops by itself.
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("PGFOLLOW_BIN", os.path.join(ROOT, ".build/release/pgfollow"))
CLUSTER = os.path.join(ROOT, "scripts/test-cluster")


def pg_bin():
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v))
    return f"/usr/lib/postgresql/{versions[-1]}/bin"


def as_postgres(argv):
    return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + argv


def cluster(*args):
    return subprocess.run([CLUSTER, *args], check=True, capture_output=True, text=True).stdout


def psql(work, node, sql):
    port = open(f"{work}/cluster/{node}.port").read().strip()
    out = subprocess.run(
        [f"{pg_bin()}/psql", "-X", "-At", "-q", "-h", "127.0.0.1", "-p", port, "-U", "postgres",
         "-d", "pg_state", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


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
    data = f"{setup.work}/cluster/{node}"
    shutil.rmtree(data)
    subprocess.run(as_postgres([f"{pg_bin()}/pg_basebackup", "-h", "127.0.0.1", "-p",
                                setup.port(primary), "-U", "postgres", "-D", data, "-R",
                                "-X", "stream", "-c", "fast"]), check=True, capture_output=True)
    with open(f"{data}/postgresql.conf", "a") as f:
        f.write(f"port = {setup.port(node)}\n")
    cluster("restart", f"{setup.work}/cluster", node)


def promote(setup, node):
    subprocess.run(as_postgres([f"{pg_bin()}/pg_ctl", "-D", f"{setup.work}/cluster/{node}",
                                "-w", "promote"]), check=True, capture_output=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def bench_latency(failovers):
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


class HungListener:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]


def cycle_times(log_path):
    return [int(m) for m in re.findall(r"cycle took (\d+)ms", open(log_path).read())]


def bench_hung(seconds=30):
    """Cycle durations with one node that accepts TCP and never answers."""
    setup = Setup()
    hung = HungListener()
    setup.extra = [("hung", hung.port)]
    try:
        sidecar = start_sidecar(setup, setup.config(), level="debug")
        time.sleep(seconds)
        stop(sidecar)
        return cycle_times(f"{setup.work}/run.log")
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


def bench_cycles(cycles):
    """CPU time and memory over many cycles at a short interval."""
    setup = Setup()
    try:
        config = setup.config(run="interval: 10ms\ncycle_deadline: 8ms\nconfirm_after: 1ms")
        sidecar = start_sidecar(setup, config, level="debug")
        log = f"{setup.work}/run.log"
        samples = []
        started = time.time()
        step = max(1000, cycles // 10 // 1000 * 1000)
        checkpoints = [500, 1000] + list(range(step, cycles + 1, step))
        checkpoints = sorted(set(checkpoints))
        for checkpoint in checkpoints:
            assert wait_for(lambda: len(cycle_times(log)) >= checkpoint, 600), "cycles stalled"
            samples.append((checkpoint, time.time() - started, *proc_stats(sidecar.pid)))
        stop(sidecar)
        return samples
    finally:
        setup.close()


def bench_connections(window=60):
    """New connections per minute at steady state, from log_connections."""
    setup = Setup()
    try:
        for node in setup.nodes:
            psql(setup.work, node, "alter system set log_connections = on")
            psql(setup.work, node, "select pg_reload_conf()")
        sidecar = start_sidecar(setup, setup.config())
        time.sleep(10)
        logs = [f"{setup.work}/cluster/{node}.log" for node in setup.nodes]
        sizes = [os.path.getsize(path) for path in logs]
        time.sleep(window)
        new = 0
        for path, size in zip(logs, sizes):
            with open(path) as f:
                f.seek(size)
                new += sum(1 for line in f if "connection authorized" in line
                           and "application_name=pgfollow" in line)
        stop(sidecar)
        return new, window
    finally:
        setup.close()


def bench_once(runs=20):
    """Wall time and peak RSS of one `pgfollow once` run (in sync, 2 nodes)."""
    setup = Setup()
    try:
        config = setup.config()
        subprocess.run([BINARY, "once", "-c", config], capture_output=True)
        walls, peaks = [], []
        for _ in range(runs):
            out = subprocess.run(["/usr/bin/time", "-f", "%e %M", BINARY, "once", "-c", config],
                                 capture_output=True, text=True)
            wall, peak = out.stderr.strip().splitlines()[-1].split()
            walls.append(float(wall))
            peaks.append(int(peak))
        return walls, peaks
    finally:
        setup.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=10000)
    parser.add_argument("--only", nargs="*", default=["latency", "hung", "cycles", "connections", "once"])
    args = parser.parse_args()
    print(f"pgfollow benchmarks, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores\n")
    if "latency" in args.only:
        ms = [x * 1000 for x in bench_latency(args.failovers)]
        print(f"| detection latency, commit -> restart, {len(ms)} failovers, interval 1 s | "
              f"median {statistics.median(ms):.0f} ms | p95 {percentile(ms, 95):.0f} ms | "
              f"max {max(ms):.0f} ms |")
        print("  all (ms): " + ", ".join(f"{x:.0f}" for x in ms))
    if "hung" in args.only:
        times = bench_hung()
        print(f"| cycle time with one hung node, deadline 800 ms, {len(times)} cycles | "
              f"median {statistics.median(times)} ms | max {max(times)} ms |")
    if "cycles" in args.only:
        samples = bench_cycles(args.cycles)
        print("| cycles | seconds | RSS KiB | of which anonymous KiB | CPU s | open fds |")
        for checkpoint, seconds, rss, anon, cpu, fds in samples:
            print(f"| {checkpoint} | {seconds:.0f} | {rss} | {anon} | {cpu:.2f} | {fds} |")
        first, last = samples[0], samples[-1]
        per_cycle = (last[4] - first[4]) / (last[0] - first[0]) * 1e6
        print(f"  CPU per cycle: {per_cycle:.0f} µs; RSS {first[2]} -> {last[2]} KiB")
    if "connections" in args.only:
        new, window = bench_connections()
        print(f"| new connections at steady state | {new} in {window} s |")
    if "once" in args.only:
        walls, peaks = bench_once()
        print(f"| pgfollow once (in sync, 2 nodes), {len(walls)} runs | median {statistics.median(walls)*1000:.0f} ms | "
              f"max {max(walls)*1000:.0f} ms | peak RSS median {statistics.median(peaks)} KiB |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmarks of pgfollow against a real local cluster (scripts/test-cluster).

Run from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/sidecar.py [--failovers 20] [--cycles 10000] [--only NAME ...]
It prints Markdown tables for BENCHMARKS.md. Everything runs on 127.0.0.1 and stops by itself.
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import time

from benchlib import (BINARY, Setup, crash_failover_latencies, percentile, proc_stats, psql,
                      start_sidecar, stop, wait_for)


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


def bench_cycles(cycles):
    """CPU time and memory over many cycles at a short interval."""
    setup = Setup()
    try:
        config = setup.config(run="interval: 10ms\nconfirm_after: 1ms")
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
        ms = [x * 1000 for x in crash_failover_latencies(args.failovers)]
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

#!/usr/bin/env python3
"""Soak: the sidecar for many cycles while the cluster's nodes are stopped, hung and restarted.

Run from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/soak.py [--cycles 100000] [--interval 10ms]
Each node has its own chaos thread that, at random, kills the node and starts it again later,
freezes it (SIGSTOP of the postmaster and its children: accepts TCP, never answers) and thaws it,
or restarts it. node1 stays the primary, so the application's file must never change and no
restart may happen. The sidecar's RSS and open descriptors are sampled as the cycles go by.
It prints Markdown for BENCHMARKS.md and exits 1 if any check failed.
"""
import argparse
import os
import random
import re
import signal
import subprocess
import threading
import time
import urllib.request

from benchlib import (BINARY, Setup, as_postgres, cluster, free_port, node_processes, pg_bin,
                      proc_stats, signal_all, start_sidecar, stop)


class Chaos(threading.Thread):
    """Random faults on one node until stopped; counts what it did."""

    def __init__(self, setup, node, seed):
        super().__init__(daemon=True)
        self.setup, self.node, self.random = setup, node, random.Random(seed)
        self.done = threading.Event()
        self.counts = {"stop": 0, "hang": 0, "restart": 0}

    def pause(self, low, high):
        self.done.wait(self.random.uniform(low, high))

    def run(self):
        directory = f"{self.setup.work}/cluster"
        while not self.done.is_set():
            self.pause(0.5, 4)
            fault = self.random.choice(["stop", "hang", "restart"])
            self.counts[fault] += 1
            if fault == "stop":
                cluster("kill", directory, self.node)
                self.pause(0.2, 5)
                cluster("restart", directory, self.node)
            elif fault == "hang":
                pids = node_processes(f"{self.setup.work}/cluster", self.node)
                signal_all(pids, signal.SIGSTOP)
                self.pause(0.2, 5)
                signal_all(pids, signal.SIGCONT)
            else:
                subprocess.run(as_postgres([f"{pg_bin()}/pg_ctl", "-D", f"{directory}/{self.node}",
                                            "-m", "fast", "-w", "stop"]),
                               check=True, capture_output=True)
                cluster("restart", directory, self.node)


def metric(port, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    match = re.search(rf"^{name} (\S+)$", body, re.M)
    return float(match.group(1)) if match else 0


def decision_lines(log):
    return [line for line in log.splitlines() if re.search(r"\b(leader node\d|holding):", line)]


def soak(cycles, interval):
    setup = Setup()
    try:
        port = free_port()
        config = setup.config(run=f"interval: {interval}\n"
                                  "confirm_after: 1ms\nhold_interval: " + interval)
        with open(config, "a") as f:
            f.write(f"metrics:\n  listen: 127.0.0.1:{port}\n")
        subprocess.run([BINARY, "once", "-c", config], check=True, capture_output=True)
        original = open(f"{setup.work}/app.yaml", "rb").read()
        restarts_before = len(setup.restarts())
        sidecar = start_sidecar(setup, config)
        time.sleep(1)
        chaos = [Chaos(setup, node, seed) for seed, node in enumerate(setup.nodes)]
        for thread in chaos:
            thread.start()
        samples, started, next_sample = [], time.time(), 0
        while True:
            done = metric(port, "pgfollow_cycles_total")
            if done >= next_sample:
                samples.append((int(done), time.time() - started, *proc_stats(sidecar.pid)))
                next_sample += max(1000, cycles // 10)
            if done >= cycles or sidecar.poll() is not None:
                break
            time.sleep(0.5)
        for thread in chaos:
            thread.done.set()
        for thread in chaos:
            thread.join()
        alive = sidecar.poll() is None
        if alive:
            stop(sidecar)
        log = open(f"{setup.work}/run.log").read()
        return {
            "samples": samples,
            "alive": alive,
            "exit": sidecar.returncode,
            "faults": {node.node: node.counts for node in chaos},
            "decisions": decision_lines(log),
            "unreachable": log.count("unreachable:"),
            "file_unchanged": open(f"{setup.work}/app.yaml", "rb").read() == original,
            "restarts": len(setup.restarts()) - restarts_before,
            "crash_words": re.findall(r"Fatal error|panic|Segmentation|Illegal instruction", log),
        }
    finally:
        setup.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=100000)
    parser.add_argument("--interval", default="10ms")
    args = parser.parse_args()
    result = soak(args.cycles, args.interval)
    samples = result["samples"]
    print(f"pgfollow soak, {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, "
          f"interval {args.interval}, binary {BINARY}\n")
    print("| cycles | seconds | RSS KiB | of which anonymous KiB | CPU s | open fds |")
    print("|---|---|---|---|---|---|")
    for done, seconds, rss, anon, cpu, fds in samples:
        print(f"| {done} | {seconds:.0f} | {rss} | {anon} | {cpu:.1f} | {fds} |")
    faults = result["faults"]
    print("\nfaults injected: " + "; ".join(
        f"{node}: " + ", ".join(f"{count} {kind}" for kind, count in counts.items())
        for node, counts in faults.items()))
    unexplained = [line for line in result["decisions"] if re.search(r"(leader node\d|holding):\s*$", line)]
    print(f"decision changes logged: {len(result['decisions'])}, without a reason: {len(unexplained)}")
    print(f"unreachable episodes logged: {result['unreachable']}")
    print(f"sidecar alive at the end: {result['alive']}, exit status after SIGTERM: {result['exit']}")
    print(f"application file unchanged: {result['file_unchanged']}; restarts: {result['restarts']}")
    rss_growth = samples[-1][2] - samples[1][2] if len(samples) > 1 else 0
    fd_range = (min(s[5] for s in samples), max(s[5] for s in samples))
    print(f"RSS from the second sample to the last: {rss_growth:+d} KiB; open fds {fd_range[0]}-{fd_range[1]}")
    checks = [result["alive"], result["exit"] == 0, samples[-1][0] >= args.cycles,
              not unexplained, result["file_unchanged"], result["restarts"] == 0,
              not result["crash_words"], fd_range[1] - fd_range[0] <= 4]
    print("all checks passed" if all(checks) else f"CHECKS FAILED: {checks}")
    raise SystemExit(0 if all(checks) else 1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""pgfollow behind real links with faults (scripts/faulty-network), as root.

Run from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/network.py [--trials 5] [--lossy-seconds 60] [--only NAME ...]
NAME: crash, freeze, blackhole, far, lossy, once. Prints Markdown for BENCHMARKS.md. The links
live in network namespaces the benchmark makes and removes; nothing leaves the machine.
"""
import argparse
import datetime
import os
import random
import signal
import statistics
import subprocess
import time

from benchlib import (BINARY, ROOT, Setup, crash_failover_latencies, cluster, node_processes,
                      percentile, promote, psql, rebuild_standby, signal_all, wait_for)

NETWORK = os.path.join(ROOT, "scripts/faulty-network")
TIMEOUTS = "timeouts:\n  connect: 1s\n  query: 1s\n"


class LinkedSetup(Setup):
    """A Setup whose nodes pgfollow reaches through one faulty link each."""

    def __init__(self):
        super().__init__()
        self.addresses = {}
        for index, node in enumerate(self.nodes, 1):
            subprocess.run([NETWORK, "up", self.work, node, self.port(node), str(index)],
                           check=True, capture_output=True)
            self.addresses[node] = open(f"{self.work}/{node}.link.address").read().strip()

    def linked_config(self, timeouts=TIMEOUTS, run=""):
        path = self.config(run=run, set_standby=True)
        text = open(path).read()
        for node, address in self.addresses.items():
            text = text.replace(f"host=127.0.0.1 port={self.port(node)} ",
                                f"host={address} port=5432 ")
        open(path, "w").write(text + timeouts)
        return path

    def faults(self, node, *settings):
        subprocess.run([NETWORK, "set", self.work, node, *settings], check=True)
        time.sleep(0.1)

    def start(self, config, level="info"):
        log = open(f"{self.work}/run.log", "w")
        process = subprocess.Popen([NETWORK, "exec", self.work, BINARY, "run", "-c", config,
                                    "--log-level", level], stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL)
        self.processes.append(process)
        assert wait_for(lambda: "leader node1" in self.log(), 30), self.log()
        return process

    def once(self, config):
        started = time.time()
        result = subprocess.run([NETWORK, "exec", self.work, BINARY, "once", "-c", config],
                                capture_output=True, text=True)
        return time.time() - started, result.returncode

    def log(self):
        return open(f"{self.work}/run.log").read()

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        subprocess.run([NETWORK, "down", self.work], capture_output=True)
        super().close()


def commit_row(setup, node):
    return float(psql(setup.work, node,
                      "insert into failover_log values (extract(epoch from now())::int, "
                      f"'{node}') returning extract(epoch from clock_timestamp())"))


def failovers(setup, trials, fault, heal, delay=(0.3, 0.3)):
    """Per trial: `fault` the primary, promote the standby, wait `delay`, commit its row, and
    time the commit -> restart. The old primary is healed and rebuilt as the new standby."""
    primary, standby = "node1", "node2"
    latencies = []
    for _ in range(trials):
        time.sleep(random.uniform(2.5, 3.5))
        before = len(setup.restarts())
        fault(primary)
        promote(setup, standby)
        time.sleep(random.uniform(*delay))
        committed = commit_row(setup, standby)
        assert wait_for(lambda: len(setup.restarts()) > before, 20), setup.log()[-3000:]
        latencies.append(setup.restarts()[-1] - committed)
        heal(primary)
        subprocess.run([f"{ROOT}/scripts/test-cluster", "kill", f"{setup.work}/cluster", primary],
                       capture_output=True)
        rebuild_standby(setup, primary, standby)
        primary, standby = standby, primary
    return latencies


def row(name, latencies):
    ms = [value * 1000 for value in latencies]
    return (f"| {name} | {len(ms)} | {statistics.median(ms):.0f} | {percentile(ms, 90):.0f} | "
            f"{max(ms):.0f} |")


def bench_blackhole(trials):
    setup = LinkedSetup()
    try:
        setup.start(setup.linked_config())
        return failovers(setup, trials, lambda node: setup.faults(node, "blackhole=1"),
                         lambda node: setup.faults(node))
    finally:
        setup.close()


def bench_freeze(trials):
    setup = LinkedSetup()
    try:
        setup.start(setup.linked_config())
        frozen = []

        def freeze(node):
            frozen[:] = node_processes(f"{setup.work}/cluster", node)
            signal_all(frozen, signal.SIGSTOP)

        def thaw(_):
            signal_all(frozen, signal.SIGCONT)
        return failovers(setup, trials, freeze, thaw)
    finally:
        setup.close()


def bench_far(trials):
    """node2 is 400 ms away each way; each trial fails node1 over to it and back."""
    setup = LinkedSetup()
    try:
        setup.faults("node2", "delay_ms=400")
        setup.start(setup.linked_config(timeouts="timeouts:\n  connect: 5s\n  query: 1500ms\n"))
        crash = lambda node: cluster("kill", f"{setup.work}/cluster", node)
        latencies = failovers(setup, 1, crash, lambda node: None)
        log = setup.log()
        return latencies, log
    finally:
        setup.close()


def blind_seconds(log, node, start, end):
    blind, down = 0.0, None
    for line in log.splitlines():
        stamp = datetime.datetime.fromisoformat(line.split(" ")[0].replace("Z", "+00:00"))
        stamp = stamp.timestamp()
        if stamp < start:
            continue
        if f"node {node} unreachable" in line and down is None:
            down = stamp
        if f"node {node} reachable again" in line and down is not None:
            blind, down = blind + stamp - down, None
    return blind + (end - down if down is not None else 0)


def bench_lossy(seconds, query):
    setup = LinkedSetup()
    try:
        setup.start(setup.linked_config(timeouts=f"timeouts:\n  connect: 1s\n  query: {query}\n"))
        time.sleep(3)
        restarts = len(setup.restarts())
        start = time.time()
        for node in setup.nodes:
            setup.faults(node, "loss=0.3", "delay_ms=100")
        time.sleep(seconds)
        end = time.time()
        log = setup.log()
        fresh = {node: 1 - blind_seconds(log, node, start, end) / (end - start)
                 for node in setup.nodes}
        return len(setup.restarts()) - restarts, fresh
    finally:
        setup.close()


def bench_once(trials):
    """once with node2 blackholed: in sync, and switching (node1's row, node1 writable)."""
    setup = LinkedSetup()
    try:
        config = setup.linked_config()
        setup.once(config)
        setup.faults("node2", "blackhole=1")
        in_sync = [setup.once(config) for _ in range(trials)]
        switching = []
        for _ in range(trials):
            text = open(f"{ROOT}/examples/app.yaml").read()
            open(f"{setup.work}/app.yaml", "w").write(text.replace("address: node1:5432", "address: old:5432"))
            subprocess.run(["rm", "-rf", f"{setup.work}/state"])
            switching.append(setup.once(config))
        return in_sync, switching
    finally:
        setup.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--lossy-seconds", type=int, default=60)
    parser.add_argument("--lossy-query", nargs="*", help="timeouts.query values (1s 3s)")
    parser.add_argument("--only", nargs="*")
    arguments = parser.parse_args()
    wanted = lambda name: not arguments.only or name in arguments.only
    print("| case | trials | median ms | p90 ms | max ms |\n|---|---|---|---|---|")
    if wanted("crash"):
        print(row("primary crashes (loopback)", crash_failover_latencies(arguments.trials * 2)))
    if wanted("freeze"):
        print(row("primary frozen (SIGSTOP), row 0.3 s later", bench_freeze(arguments.trials)),
              flush=True)
    if wanted("blackhole"):
        print(row("primary blackholed, row 0.3 s later", bench_blackhole(arguments.trials)),
              flush=True)
    if wanted("far"):
        latencies, log = bench_far(arguments.trials)
        print(row("failover to a standby 400 ms away each way", latencies))
        print("\nThe sidecar's log of that failover:\n```\n" + log.strip() + "\n```")
    if wanted("lossy"):
        for query in arguments.lossy_query or ("1s", "3s"):
            restarts, fresh = bench_lossy(arguments.lossy_seconds, query)
            shares = ", ".join(f"{node} {share:.0%}" for node, share in fresh.items())
            print(f"\n30 % loss and 100 ms each way on both links for {arguments.lossy_seconds} "
                  f"s, timeouts.query {query}: {restarts} restarts; fresh evidence {shares} of "
                  "the time", flush=True)
    if wanted("once"):
        in_sync, switching = bench_once(arguments.trials)
        for name, runs in (("in sync", in_sync), ("switching", switching)):
            times = [f"{seconds * 1000:.0f}" for seconds, _ in runs]
            codes = sorted({code for _, code in runs})
            print(f"\n`once` with node2 blackholed, {name}: {', '.join(times)} ms "
                  f"(exit {', '.join(map(str, codes))})")


if __name__ == "__main__":
    main()

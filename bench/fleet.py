#!/usr/bin/env python3
"""A fleet of application hosts: N real `pgfollow run` sidecars against one test cluster.

Run from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/fleet.py [--hosts 150] [--failovers 3] [--modes direct limited pooler]
                           [--storm] [--storm-binary OLD_PGFOLLOW]
Modes: `direct` (each sidecar connects to each node), `limited` (the same, with the watchers'
role capped by CONNECTION LIMIT), `pooler` (through one PgBouncer per node, transaction pooling).
For each it reports backends per node, whether the application's own role still connects, blind
sidecars, the fleet's memory (Pss) and CPU, transactions per second at each node, and after each
failover how many hosts switched and the latency from the new row's commit to each restart.
`--storm` counts connection attempts per second at a standby over the 10 s after it restarts
(log_connections), with this binary and with `--storm-binary` (one without jitter).
Everything runs on 127.0.0.1 and is stopped at the end. Prints Markdown for BENCHMARKS.md.
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone

from benchlib import (BINARY, as_postgres, cluster, percentile, pg_bin, rebuild_standby,
                     wait_for)

APP_TEXT = "db_master:\n  - address: none   # the primary\n"


class Fleet:
    def __init__(self, hosts, mode, binary=BINARY, max_client_conn=4000):
        self.work = tempfile.mkdtemp(prefix="pgfollow-fleet-")
        os.chmod(self.work, 0o755)
        self.dir = f"{self.work}/cluster"
        cluster("start", self.dir, "2")
        for node in ("node1", "node2"):
            with open(f"{self.dir}/{node}/postgresql.conf", "a") as f:
                f.write("log_connections = on\nlog_line_prefix = '%m '\nlog_timezone = 'UTC'\n")
            cluster("kill", self.dir, node)
            cluster("restart", self.dir, node)
        self.sql("node1", "create role app login")
        self.sql("node1", "grant select on failover_log to app")
        if mode == "limited":
            self.sql("node1", "alter role pgfollow connection limit 40")
        self.mode, self.binary, self.processes = mode, binary, []
        if mode == "pooler":
            for node in ("node1", "node2"):
                cluster("pooler", self.dir, node, "5", str(max_client_conn))
        self.hosts = [self.make_host(i) for i in range(hosts)]

    def port(self, node, pooler=False):
        suffix = ".pooler" if pooler else ""
        return open(f"{self.dir}/{node}{suffix}.port").read().strip()

    def sql(self, node, query, user="postgres"):
        out = subprocess.run(
            [f"{pg_bin()}/psql", "-X", "-At", "-q", "-h", "127.0.0.1", "-p", self.port(node),
             "-U", user, "-d", "pg_state", "-c", query], capture_output=True, text=True)
        return out.stdout.strip() if out.returncode == 0 else "ERROR: " + out.stderr.strip()

    def make_host(self, index):
        host = f"{self.work}/host{index}"
        os.makedirs(host)
        open(f"{host}/app.yaml", "w").write(APP_TEXT)
        with open(f"{host}/systemctl", "w") as f:
            f.write('#!/bin/sh\necho "$(date +%s.%N)" >> "$(dirname "$0")/restarts.log"\n')
        os.chmod(f"{host}/systemctl", 0o755)
        pooled = self.mode == "pooler"
        lines = ["nodes:"]
        for node in ("node1", "node2"):
            lines += [f"  - name: {node}",
                      f"    conninfo: host=127.0.0.1 port={self.port(node, pooled)} "
                      "dbname=pg_state user=pgfollow",
                      f"    address: {node}:5432"]
        lines += ["app:", "  file: app.yaml", "  set:",
                  '    db_master[0].address: "{leader.address}"',
                  "restart: {units: app.service, systemctl: ./systemctl}",
                  "run: {interval: 1s}", "metrics: {listen: off}", "state_directory: state"]
        open(f"{host}/pgfollow.yaml", "w").write("\n".join(lines) + "\n")
        return host

    def start(self):
        for host in self.hosts:
            log = open(f"{host}/run.log", "w")
            self.processes.append(subprocess.Popen(
                [self.binary, "run", "-c", f"{host}/pgfollow.yaml", "--log-level", "notice"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL, cwd=host))

    def restarts(self, host):
        try:
            return [float(line) for line in open(f"{host}/restarts.log")]
        except FileNotFoundError:
            return []

    def close(self):
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        cluster("stop", self.dir)
        shutil.rmtree(self.work, ignore_errors=True)


def pss_kib(pid):
    try:
        text = open(f"/proc/{pid}/smaps_rollup").read()
        return int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))
    except (FileNotFoundError, AttributeError):
        return 0


def cpu_ticks(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except FileNotFoundError:
        return 0


def server_ticks(fleet, nodes=("node1", "node2")):
    """CPU ticks of the nodes' servers (the postmaster, its live children and those it reaped)
    and of their PgBouncers, by node."""
    ticks = {}
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
                stats[int(entry)] = fields
            except (FileNotFoundError, ProcessLookupError):
                continue
    for node in nodes:
        total = 0
        try:
            postmaster = int(open(f"{fleet.dir}/{node}/postmaster.pid").readline())
        except (FileNotFoundError, ValueError):
            postmaster = None
        for pid, fields in stats.items():
            if pid == postmaster:
                total += sum(int(fields[i]) for i in (11, 12, 13, 14))
            elif postmaster and int(fields[1]) == postmaster:
                total += int(fields[11]) + int(fields[12])
        try:
            pooler = int(open(f"{fleet.dir}/{node}.pooler.pid").read())
            if pooler in stats:
                total += int(stats[pooler][11]) + int(stats[pooler][12])
        except (FileNotFoundError, ValueError):
            pass
        ticks[node] = total
    return ticks


def commits(fleet, node):
    value = fleet.sql(node, "select xact_commit from pg_stat_database where datname = 'pg_state'")
    return int(value) if value.isdigit() else 0


def steady_state(fleet, seconds=10):
    """What the fleet costs and whom it starves, once it has settled."""
    pids = [p.pid for p in fleet.processes]
    before = {n: commits(fleet, n) for n in ("node1", "node2")}
    ticks = sum(cpu_ticks(pid) for pid in pids)
    servers = server_ticks(fleet)
    time.sleep(seconds)
    ticks = sum(cpu_ticks(pid) for pid in pids) - ticks
    servers = {n: t - servers[n] for n, t in server_ticks(fleet).items()}
    after = {n: commits(fleet, n) for n in ("node1", "node2")}
    hz = os.sysconf("SC_CLK_TCK")
    return {
        "backends": {n: fleet.sql(n, "select count(*) from pg_stat_activity "
                                     "where usename = 'pgfollow'") for n in ("node1", "node2")},
        "app": {n: fleet.sql(n, "select 'connects'", user="app") for n in ("node1", "node2")},
        "blind": sum(1 for host in fleet.hosts if not fleet.restarts(host)),
        "pss_mib": sum(pss_kib(pid) for pid in pids) / 1024,
        "cpu_cores": ticks / hz / seconds,
        "server_cores": {n: t / hz / seconds for n, t in servers.items()},
        "tps": {n: (after[n] - before[n]) / seconds for n in ("node1", "node2")},
    }


def failover(fleet, primary, standby):
    """Kill the primary, promote the standby, record its row; per host, commit -> restart."""
    before = {host: len(fleet.restarts(host)) for host in fleet.hosts}
    logs = pooler_logs(fleet)
    servers = server_ticks(fleet, (standby,))
    killed = time.time()
    cluster("kill", fleet.dir, primary)
    cluster("promote-only", fleet.dir, standby)
    time.sleep(random.uniform(0, 1))  # the failover tool's own delay before it records
    committed = float(fleet.sql(
        standby, "insert into failover_log values (extract(epoch from now())::int, "
        f"'{standby}') returning extract(epoch from clock_timestamp())"))
    probes_before = commits(fleet, standby)
    wait_for(lambda: all(len(fleet.restarts(h)) > before[h] for h in fleet.hosts), 30, 0.05)
    latencies = [fleet.restarts(h)[-1] - committed for h in fleet.hosts
                 if len(fleet.restarts(h)) > before[h]]
    time.sleep(max(0.0, committed + 10 - time.time()))
    probes = (commits(fleet, standby) - probes_before) / max(10.0, time.time() - committed)
    time.sleep(max(0.0, killed + 20 - time.time()))
    window = time.time() - killed
    pooled = {node: pooler_counts(path, offset) for node, (path, offset) in logs.items()}
    busy = (server_ticks(fleet, (standby,))[standby] - servers[standby]) \
        / os.sysconf("SC_CLK_TCK") / window
    pooled["server_cores"] = busy
    rebuild_standby(fleet, primary, standby)
    return latencies, probes, pooled


POOLER_EVENTS = {"logins": "login attempt", "query_wait_timeout": "query_wait_timeout",
                 "refused": "no more connections allowed"}


def pooler_logs(fleet):
    """Each pooler's log and its size now, to count what it logs from here on."""
    paths = {node: f"{fleet.dir}/{node}.pooler.log" for node in ("node1", "node2")}
    return {node: (path, os.path.getsize(path)) for node, path in paths.items()
            if os.path.exists(path)}


def pooler_counts(path, offset):
    with open(path, errors="replace") as f:
        f.seek(offset)
        text = f.read()
    counts = {name: text.count(mark) for name, mark in POOLER_EVENTS.items()}
    if os.environ.get("FLEET_POOLER_MESSAGES"):
        kinds = {}
        for line in text.splitlines():
            kind = re.sub(r"[0-9a-fx]{6,}|\d+(\.\d+)?", "N", line.split(" ", 3)[-1])
            kinds[kind] = kinds.get(kind, 0) + 1
        for kind, n in sorted(kinds.items(), key=lambda item: -item[1])[:6]:
            print(f"    {n}x {kind[:150]}")
    return counts


def run_mode(mode, hosts, failovers, max_client_conn=4000):
    fleet = Fleet(hosts, mode, max_client_conn=max_client_conn)
    try:
        fleet.start()
        wait_for(lambda: all(fleet.restarts(h) for h in fleet.hosts), 30, 0.05)
        time.sleep(3)
        state = steady_state(fleet)
        switched, latencies, probes, pooled = [], [], [], []
        primary, standby = "node1", "node2"
        for _ in range(failovers):
            time.sleep(random.uniform(2.5, 3.5))  # past the restart spacing, at a random phase
            result, rate, counts = failover(fleet, primary, standby)
            switched.append(len(result))
            latencies += result
            probes.append(rate)
            pooled.append((primary, standby, counts))
            primary, standby = standby, primary
        return state, switched, latencies, probes, pooled
    finally:
        fleet.close()


def storm(hosts, binary):
    """Connection attempts per second at a standby over the 10 s after it restarts."""
    fleet = Fleet(hosts, "direct", binary)
    try:
        fleet.start()
        wait_for(lambda: all(fleet.restarts(h) for h in fleet.hosts), 30, 0.05)
        time.sleep(3)
        cluster("kill", fleet.dir, "node2")
        time.sleep(3)
        log = f"{fleet.dir}/node2.log"
        offset = os.path.getsize(log)
        cluster("restart", fleet.dir, "node2")
        started = time.time()
        time.sleep(11)
        counts = [0] * 10
        with open(log) as f:
            f.seek(offset)
            for line in f:
                if "connection received" not in line:
                    continue
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S.%f")
                second = int(stamp.replace(tzinfo=timezone.utc).timestamp() - started)
                if 0 <= second < 10:
                    counts[second] += 1
        return counts
    finally:
        fleet.close()


PROBE_SQL = """SELECT pg_catalog.pg_is_in_recovery(),
  EXISTS (SELECT 1 FROM pg_catalog.pg_stat_wal_receiver), k.ts, k.host, u.ts, u.host,
  pg_catalog.current_setting('is_superuser')
FROM (SELECT 1) AS one
LEFT JOIN LATERAL (SELECT t.unixtime::int8 AS ts, t.host::text AS host FROM failover_log AS t
  WHERE t.host::text = ANY ('{node1,node2}'::text[]) AND t.unixtime IS NOT NULL
  ORDER BY t.unixtime DESC, pg_catalog.array_position('{node1,node2}'::text[], t.host::text)
  LIMIT 1) AS k ON true
LEFT JOIN LATERAL (SELECT t.unixtime::int8 AS ts, t.host::text AS host FROM failover_log AS t
  WHERE t.unixtime IS NOT NULL ORDER BY t.unixtime DESC LIMIT 1) AS u ON true;
"""


def capacity(clients=8, seconds=10):
    """How many probes a second one node answers flat out (pgbench, the probe's own query)."""
    fleet = Fleet(0, "direct")
    try:
        script = f"{fleet.work}/probe.sql"
        open(script, "w").write(PROBE_SQL.replace("\n", " ") + "\n")
        os.chmod(fleet.work, 0o755)
        os.chmod(script, 0o644)
        out = subprocess.run(
            as_postgres([f"{pg_bin()}/pgbench", "-n", "-M", "extended", "-f", script,
                         "-c", str(clients), "-j", "2", "-T", str(seconds), "-h", "127.0.0.1",
                         "-p", fleet.port("node1"), "-U", "pgfollow", "pg_state"]),
            capture_output=True, text=True)
        match = re.search(r"tps = ([\d.]+)", out.stdout)
        latency = re.search(r"latency average = ([\d.]+) ms", out.stdout)
        return (float(match.group(1)) if match else out.stderr,
                float(latency.group(1)) if latency else None)
    finally:
        fleet.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", type=int, default=150)
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--modes", nargs="*", default=["direct", "limited", "pooler"])
    parser.add_argument("--storm", action="store_true")
    parser.add_argument("--storm-binary")
    parser.add_argument("--capacity", action="store_true")
    parser.add_argument("--max-client-conn", type=int, default=4000,
                        help="each PgBouncer's max_client_conn")
    args = parser.parse_args()
    if args.capacity:
        tps, latency = capacity()
        print(f"probe capacity of one node: {tps} probes/s, {latency} ms each (8 clients)")
    print(f"{args.hosts} sidecars, 2 nodes (max_connections 100), interval 1 s\n")
    print("| mode | pgfollow backends node1/node2 | app role connects (node1 / node2) | blind "
          "| fleet Pss | fleet CPU | xact/s node1/node2 | switched per failover "
          "| commit → restart median / p90 / max | probes/s at the new primary, 10 s after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for mode in args.modes:
        state, switched, latencies, probes, pooled = run_mode(mode, args.hosts, args.failovers,
                                                             args.max_client_conn)
        app = " / ".join("yes" if v == "connects" else v.replace("ERROR: ", "")[:90]
                         for v in state["app"].values())
        lat = (f"{statistics.median(latencies)*1000:.0f} / {percentile(latencies, 90)*1000:.0f}"
               f" / {max(latencies)*1000:.0f} ms") if latencies else "-"
        print(f"| {mode} | {state['backends']['node1']} / {state['backends']['node2']} | {app} "
              f"| {state['blind']} | {state['pss_mib']:.0f} MiB | {state['cpu_cores']:.2f} cores "
              f"| {state['tps']['node1']:.0f} / {state['tps']['node2']:.0f} "
              f"| {', '.join(f'{s}/{args.hosts}' for s in switched)} | {lat} "
              f"| {', '.join(f'{rate:.0f}' for rate in probes)} |", flush=True)
        per_thousand = 1000 / args.hosts
        steady = state["server_cores"]
        print(f"  - server CPU at steady state (node, its backends and PgBouncer): node1 "
              f"{steady['node1']:.2f}, node2 {steady['node2']:.2f} cores; per 1,000 hosts "
              f"{steady['node1'] * per_thousand:.2f} and {steady['node2'] * per_thousand:.2f}",
              flush=True)
        for dead, new, counts in pooled:
            busy = counts.pop("server_cores")
            print(f"  - failover {dead} -> {new}, the 20 s from the kill: {new}'s server CPU "
                  f"{busy:.2f} cores ({busy * per_thousand:.2f} per 1,000 hosts); "
                  + "; ".join(f"{node}'s PgBouncer " + ", ".join(
                      f"{n} {name}" for name, n in events.items())
                              for node, events in counts.items()), flush=True)
    if args.storm:
        print("\nConnection attempts per second at node2 after it restarts (seconds 0-9):\n")
        for label, binary in [("jittered (this build)", BINARY), ("no jitter", args.storm_binary)]:
            if binary:
                print(f"- {label}: {storm(args.hosts, binary)}", flush=True)


if __name__ == "__main__":
    main()

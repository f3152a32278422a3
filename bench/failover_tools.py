#!/usr/bin/env python3
"""The chain with real failover tools, timed: repmgrd and Patroni promote, their hooks (the files
of examples/writer/) run `pgfollow record`, a sidecar switches the application and restarts it.

Run from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/failover_tools.py [--runs 5]
Each run starts a fresh two-node cluster under the tool (scripts/failover-tools), a sidecar on
it, and then kills the primary (its tool's agent with it) or asks Patroni for a switchover. It
times: event → the standby out of recovery (polled every 20 ms), promotion → the new row's commit
(track_commit_timestamp), commit → the restart command, and the total. Prints Markdown.
"""
import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("PGFOLLOW_BIN", os.path.join(ROOT, ".build/release/pgfollow"))
TOOLS = os.path.join(ROOT, "scripts/failover-tools")
APP = "db_master:\n  - address: none   # the primary\n"


def tools(*args):
    return subprocess.run([TOOLS, *args], check=True, capture_output=True, text=True).stdout


def sql(port, query):
    out = subprocess.run(["psql", "-X", "-At", f"host=127.0.0.1 port={port} dbname=pg_state "
                          "user=postgres connect_timeout=1", "-c", query],
                         capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else None


def one_run(tool, event):
    work = tempfile.mkdtemp(prefix="pgfollow-tools-")
    os.chmod(work, 0o755)
    cluster = f"{work}/cluster"
    sidecar = None
    try:
        tools(f"{tool}-start", cluster, BINARY)
        ports = {n: open(f"{cluster}/{n}.port").read().strip() for n in ("node1", "node2")}
        open(f"{work}/app.yaml", "w").write(APP)
        with open(f"{work}/systemctl", "w") as f:
            f.write('#!/bin/sh\necho "$(date +%s.%N)" >> "$(dirname "$0")/restarts.log"\n')
        os.chmod(f"{work}/systemctl", 0o755)
        lines = ["nodes:"]
        for node in ("node1", "node2"):
            lines += [f"  - name: {node}",
                      f"    conninfo: host=127.0.0.1 port={ports[node]} dbname=pg_state "
                      "user=pgfollow", f"    address: {node}:5432"]
        lines += ["app:", "  file: app.yaml", "  set:",
                  '    db_master[0].address: "{leader.address}"',
                  "restart: {units: app.service, systemctl: ./systemctl}",
                  "metrics: {listen: off}", "state_directory: state"]
        open(f"{work}/pgfollow.yaml", "w").write("\n".join(lines) + "\n")
        log = open(f"{work}/run.log", "w")
        sidecar = subprocess.Popen([BINARY, "run", "-c", f"{work}/pgfollow.yaml"], stdout=log,
                                   stderr=log, stdin=subprocess.DEVNULL)
        restarts = f"{work}/restarts.log"
        deadline = time.time() + 30
        while not os.path.exists(restarts) and time.time() < deadline:
            time.sleep(0.05)
        if not os.path.exists(restarts):
            raise RuntimeError("the sidecar did not start: " + open(f"{work}/run.log").read())
        time.sleep(2.5)  # past the restart spacing
        if event == "failover":
            started = time.time()
            tools("kill-node", cluster, "node1")
        else:
            started = time.time()
            subprocess.Popen([TOOLS, "switchover", cluster, "node2"])
        promoted = None
        while time.time() < started + 90:
            if sql(ports["node2"], "select pg_is_in_recovery()") == "f":
                promoted = time.time()
                break
            time.sleep(0.02)
        committed, restarted = None, None
        while time.time() < started + 120 and restarted is None:
            row = sql(ports["node2"], "select extract(epoch from pg_xact_commit_timestamp(xmin)) "
                      "from failover_log where host = 'node2'")
            if row and committed is None:
                committed = float(row)
            stamps = [float(x) for x in open(restarts)]
            if committed and len(stamps) >= 2:
                restarted = stamps[-1]
            time.sleep(0.02)
        return started, promoted, committed, restarted
    finally:
        if sidecar and sidecar.poll() is None:
            sidecar.send_signal(signal.SIGTERM)
            sidecar.wait(timeout=30)
        subprocess.run([TOOLS, "stop", cluster], capture_output=True)
        subprocess.run([os.path.join(ROOT, "scripts/test-cluster"), "stop", cluster],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def describe(values):
    return f"{statistics.median(values):.2f} / {max(values):.2f} s"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("| chain | runs | event → promoted | promoted → row committed | row → restart "
          "| total (event → restart) |")
    print("|---|---|---|---|---|---|")
    for tool, event in [("repmgr", "failover"), ("patroni", "failover"),
                        ("patroni", "switchover")]:
        steps = []
        for _ in range(args.runs):
            started, promoted, committed, restarted = one_run(tool, event)
            if None in (promoted, committed, restarted):
                print(f"<!-- {tool} {event}: a run did not finish -->", flush=True)
                continue
            steps.append((promoted - started, committed - promoted, restarted - committed,
                          restarted - started))
            print(f"<!-- {tool} {event}: promoted {steps[-1][0]:.2f}, committed "
                  f"{committed - started:.2f}, restarted {steps[-1][3]:.2f} -->", flush=True)
        if steps:
            columns = list(zip(*steps))
            print(f"| {tool} {event} | {len(steps)} | " + " | ".join(describe(c) for c in columns)
                  + " |", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The application's write gap across crash failovers, as CloudNativePG's fast-failover test
measures it: from the primary's death to the application's first committed write on the new
primary, split into pgfollow's parts.

A real application (a Python program driving psql) reads its YAML file once at start and commits
an insert every 10 ms to the address it names, reconnecting when its session drops. The sidecar
follows with `verify: {role: shop}`; a stand-in systemctl restarts the application. Each failover
kills the primary, promotes the standby and records the row (the failover tool's part, as fast as
it can be), then rebuilds the old primary as a standby for the next round.

  python3 bench/write_gap.py [FAILOVERS]       (as root; builds nothing: .build/release/pgfollow)
"""
import datetime
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BINARY, Setup, cluster, pg_bin, promote, psql, rebuild_standby,  # noqa: E402
                      start_sidecar, stop, wait_for)

APP = r'''
import re, subprocess, sys, time
text = open(sys.argv[1]).read()
address = re.search(r"- address: *['\"]?([^ '\"#]+)", text).group(1)
host, port = address.rsplit(":", 1)
conninfo = f"host={host} port={port} dbname=pg_state user=shop application_name=shop"
while True:
    psql = subprocess.Popen([sys.argv[2], "-X", "-q", "-v", "ON_ERROR_STOP=1", conninfo],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        while psql.poll() is None:
            psql.stdin.write("insert into writes default values;\n")
            psql.stdin.flush()
            time.sleep(0.01)
    except BrokenPipeError:
        pass
    time.sleep(0.05)
'''

SYSTEMCTL = '''#!/bin/sh
here=$(dirname "$0")
echo "$(date +%s.%N) $*" >> "$here/restarts.log"
[ -f "$here/app.pid" ] && kill -TERM "-$(cat "$here/app.pid")" 2>/dev/null
setsid python3 "$here/app.py" "$here/app.yaml" PSQL >/dev/null 2>&1 </dev/null &
echo $! > "$here/app.pid"
'''


def write_config(setup):
    lines = ["nodes:"]
    for node in setup.nodes:
        lines += [f"  - name: {node}",
                  f"    conninfo: host=127.0.0.1 port={setup.port(node)} dbname=pg_state user=postgres",
                  f"    address: 127.0.0.1:{setup.port(node)}"]
    lines += ["app:", "  file: app.yaml", "  set:", '    db_master[0].address: "{leader.address}"',
              "  verify: {role: shop, within: 10s}",
              "restart:", "  units: shop.service", "  systemctl: ./systemctl",
              "metrics: {listen: off}", "state_directory: state"]
    path = f"{setup.work}/pgfollow.yaml"
    open(path, "w").write("\n".join(lines) + "\n")
    return path


def log_time(line):
    stamp = line.split(" ", 1)[0].rstrip("Z")
    return datetime.datetime.fromisoformat(stamp).replace(
        tzinfo=datetime.timezone.utc).timestamp()


def first_line_after(setup, text, after):
    for line in open(f"{setup.work}/run.log"):
        if text in line and log_time(line) > after:
            return log_time(line)
    return None


def one_failover(setup, primary, standby):
    """Seconds from the kill to each step, and the write gap."""
    before = len(setup.restarts())
    killed = time.time()
    cluster("kill", f"{setup.work}/cluster", primary)
    promote(setup, standby)
    committed = float(psql(setup.work, standby,
        "insert into failover_log values (extract(epoch from now())::int, "
        f"'{standby}') returning extract(epoch from clock_timestamp())"))
    assert wait_for(lambda: len(setup.restarts()) > before, 15), "no restart"
    restarted = setup.restarts()[-1]
    rewritten = os.stat(f"{setup.work}/app.yaml").st_mtime_ns / 1e9
    assert wait_for(lambda: first_line_after(setup, f"reached {standby}", killed), 20), \
        "not verified"
    verified = first_line_after(setup, f"reached {standby}", killed)
    first_write = None
    def wrote():
        nonlocal first_write
        value = psql(setup.work, standby,
                     f"select extract(epoch from min(at)) from writes where at > "
                     f"to_timestamp({committed})")
        first_write = float(value) if value else None
        return first_write is not None
    assert wait_for(wrote, 20, every=0.1), "no write on the new primary"
    return {"row": committed - killed, "file": rewritten - committed,
            "restart": restarted - rewritten, "reconnect": first_write - restarted,
            "verified": verified - restarted, "gap": first_write - killed}


def main():
    failovers = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    setup = Setup()
    try:
        psql(setup.work, "node1", "create role shop login")
        psql(setup.work, "node1", "create table writes (at timestamptz default clock_timestamp())")
        psql(setup.work, "node1", "grant insert on writes to shop")
        open(f"{setup.work}/app.py", "w").write(APP)
        open(f"{setup.work}/systemctl", "w").write(SYSTEMCTL.replace("PSQL", f"{pg_bin()}/psql"))
        sidecar = start_sidecar(setup, write_config(setup))
        assert wait_for(lambda: "reached node1" in open(f"{setup.work}/run.log").read(), 30), \
            "the start was not verified"
        primary, standby = "node1", "node2"
        rounds = []
        for index in range(failovers):
            time.sleep(3)  # past the restart spacing
            rounds.append(one_failover(setup, primary, standby))
            print(f"failover {index + 1}: " + ", ".join(
                f"{key} {value * 1000:.0f} ms" for key, value in rounds[-1].items()), flush=True)
            rebuild_standby(setup, primary, standby)
            primary, standby = standby, primary
        stop(sidecar)
        print(f"\n{failovers} crash failovers, pgfollow {BINARY}; medians (min-max), ms:")
        for key, meaning in [("row", "kill -> promoted and the row committed (the failover tool)"),
                             ("file", "row -> the file rewritten (pgfollow's detection)"),
                             ("restart", "file -> the restart started"),
                             ("reconnect", "restart -> the application's first write there"),
                             ("verified", "restart -> pgfollow logs the switch verified"),
                             ("gap", "kill -> the first write on the new primary")]:
            values = [r[key] * 1000 for r in rounds]
            print(f"  {key:9} {statistics.median(values):7.0f} ({min(values):.0f}-{max(values):.0f})"
                  f"  {meaning}")
    finally:
        subprocess.run(["pkill", "-f", f"{setup.work}/app.py"], check=False)
        setup.close()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What one probe costs the server against the failover table's size: 10 to 1,000,000 rows, on
the seed's two-column table and on `pgfollow init`'s (with the history columns), each with and
without the indexes `init` creates. The server's own time is read from node1's log
(log_min_duration_statement = 0: parse, bind and execute of the probe's statement) while a
sidecar probes every 200 ms over its kept connection for 5 s; `once --dry-run` (a new connection
each time, its catalog caches cold) is run 5 times per case, and its wall time is given too.

  python3 bench/probe_cost.py [SIZES...]     (as root; builds nothing: .build/release/pgfollow)
"""
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BINARY, Setup, psql, start_sidecar, stop, wait_for  # noqa: E402

RUNS = 5
SIDECAR_SECONDS = 5
DURATION = re.compile(r"duration: ([0-9.]+) ms  (parse|bind|execute) <unnamed>: (.*)")


def fill(setup, size, history):
    sysid = psql(setup.work, "node1", "select system_identifier from pg_control_system()")
    columns = ", timeline_id, wal_lsn, system_identifier" if history else ""
    values = (", 1, ('0/' || to_hex(g * 64))::pg_lsn, " + sysid) if history else ""
    psql(setup.work, "node1",
         f"truncate failover_log; insert into failover_log (unixtime, host{columns}) "
         f"select 1500000000 + g, case when g % 3 < 2 then 'node' || (g % 2 + 1) "
         f"else 'other' end{values} from generate_series(1, {size}) as g; "
         f"analyze failover_log")
    wait_for(lambda: psql(setup.work, "node2", "select count(*) from failover_log") == str(size),
             120, 0.2)


def server_times(text):
    """Each probe's parse, bind and execute, summed, from a stretch of the server's log."""
    totals, current = [], 0.0
    for line in text.splitlines():
        match = DURATION.search(line)
        if not match or "pg_is_in_recovery()," not in match.group(3):
            continue
        current += float(match.group(1))
        if match.group(2) == "execute":
            totals.append(current)
            current = 0.0
    return totals


def probe_times(setup, config):
    """The median server time of a sidecar's probes over its kept connection (the first second
    left out: a new session's catalog caches are cold), and of `once --dry-run`'s wall time."""
    log = f"{setup.work}/cluster/node1.log"
    sidecar = start_sidecar(setup, config)
    time.sleep(1)
    start = os.path.getsize(log)
    time.sleep(SIDECAR_SECONDS)
    stop(sidecar)
    with open(log) as f:
        f.seek(start)
        warm = server_times(f.read())
    walls = []
    for _ in range(RUNS):
        begun = time.monotonic()
        subprocess.run([BINARY, "once", "--dry-run", "-c", config], capture_output=True,
                       cwd=setup.work)
        walls.append((time.monotonic() - begun) * 1000)
    return (statistics.median(warm) if warm else 0), statistics.median(walls), len(warm)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [10, 1_000, 100_000, 1_000_000]
    setup = Setup()
    try:
        config = setup.config(run="interval: 200ms")
        psql(setup.work, "node1", "alter system set log_min_duration_statement = 0")
        psql(setup.work, "node1", "select pg_reload_conf()")
        admin = f"host=127.0.0.1 port={setup.port('node1')} dbname=postgres user=postgres"
        print("| rows | table | indexes | server time of one probe (median of the sidecar's) | `once --dry-run` wall (median) |")
        print("|---:|---|---|---:|---:|")
        for history in (False, True):
            for size in sizes:
                psql(setup.work, "node1", "drop table failover_log")
                if history:
                    subprocess.run([BINARY, "init", "--conninfo", admin], check=True,
                                   capture_output=True)
                else:
                    psql(setup.work, "node1",
                         "create table failover_log (unixtime int, host varchar(10))")
                fill(setup, size, history)
                name = "init's (history columns)" if history else "the seed's (2 columns)"
                for indexed in (False, True):
                    indexes = psql(setup.work, "node1",
                                   "select string_agg(indexrelid::regclass::text, ',') "
                                   "from pg_index where indrelid = 'failover_log'::regclass")
                    if not indexed and indexes:
                        psql(setup.work, "node1", f"drop index {indexes}")
                    if indexed:
                        if history:
                            subprocess.run([BINARY, "init", "--conninfo", admin], check=True,
                                           capture_output=True)
                        else:
                            psql(setup.work, "node1", "create index on failover_log (unixtime)")
                    time.sleep(0.5)
                    server, wall, count = probe_times(setup, config)
                    shown = f"{server:.3f} ms" if count >= 3 else f"({count} probes answered)"
                    label = ("ts" + (" + history" if history else "")) if indexed else "none"
                    print(f"| {size:,} | {name} | {label} | {shown} | {wall:.0f} ms |",
                          flush=True)
    finally:
        setup.close()


if __name__ == "__main__":
    main()

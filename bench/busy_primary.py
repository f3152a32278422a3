#!/usr/bin/env python3
"""What a sidecar costs at steady state, on an idle primary and on one taking writes (pgbench at
a fixed rate): its CPU, its cycles (each a decision) and its state file's replacements, each over
the same window. A state write is counted when the file's inode or mtime changes (polled every
5 ms).

  python3 bench/busy_primary.py [SECONDS] [TPS]   (as root; builds nothing: .build/release/pgfollow)
"""
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BINARY, Setup, as_postgres, free_port, pg_bin, proc_stats,  # noqa: E402
                      start_sidecar, stop, wait_for)
from soak import metric  # noqa: E402


def count_state_writes(path, stop_event, counter):
    last = None
    while not stop_event.is_set():
        try:
            info = os.stat(path)
            seen = (info.st_ino, info.st_mtime_ns)
        except FileNotFoundError:
            seen = None
        if last is not None and seen != last:
            counter[0] += 1
        last = seen
        time.sleep(0.005)


def window(setup, sidecar, port, seconds):
    stop_event, counter = threading.Event(), [0]
    watcher = threading.Thread(
        target=count_state_writes, args=(f"{setup.work}/state/state.json", stop_event, counter))
    watcher.start()
    cycles, cpu = metric(port, "pgfollow_cycles_total"), proc_stats(sidecar.pid)[2]
    time.sleep(seconds)
    cycles, cpu = metric(port, "pgfollow_cycles_total") - cycles, proc_stats(sidecar.pid)[2] - cpu
    stop_event.set()
    watcher.join()
    return cpu / seconds * 100, cycles / seconds, counter[0] * 60 / seconds


def main():
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    tps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    setup = Setup()
    try:
        port = free_port()
        config = setup.config()
        with open(config, "a") as f:
            f.write(f"metrics:\n  listen: 127.0.0.1:{port}\n")
        sidecar = start_sidecar(setup, config)
        wait_for(lambda: len(setup.restarts()) >= 1, 20)
        time.sleep(3)
        target = ["-h", "127.0.0.1", "-p", setup.port("node1"), "-U", "postgres", "pg_state"]
        subprocess.run(as_postgres([f"{pg_bin()}/pgbench", "-i", "-q", *target]), check=True,
                       capture_output=True)
        time.sleep(3)
        idle = window(setup, sidecar, port, seconds)
        load = subprocess.Popen(
            as_postgres([f"{pg_bin()}/pgbench", "-R", str(tps), "-T", str(seconds + 10), "-c", "4",
                         "-j", "2", *target]), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        time.sleep(3)
        busy = window(setup, sidecar, port, seconds)
        output = load.communicate()[0]
        done = [line for line in output.splitlines() if line.startswith("tps")]
        stop(sidecar)
        print(f"binary: {BINARY}; window {seconds} s; pgbench: {done[0] if done else '?'}")
        print("| primary | sidecar CPU | cycles (decisions) per second | state writes per minute |")
        print("|---|---:|---:|---:|")
        for name, (cpu, cycles, writes) in (("idle", idle), (f"pgbench at {tps} tps", busy)):
            print(f"| {name} | {cpu:.2f} % | {cycles:.2f} | {writes:.1f} |")
    finally:
        setup.close()


if __name__ == "__main__":
    main()

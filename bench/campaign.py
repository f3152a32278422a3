#!/usr/bin/env python3
"""A randomized fault campaign against real processes, checked by bench/campaign_check.py.

Run as root from the repository root, after `swift build -c release --product pgfollow`:
    python3 bench/campaign.py [--minutes 30] [--seed N] [--sidecars 2] [--history FILE]
    python3 bench/campaign.py --seed N --schedule [--episodes 20]   # what a seed draws
    python3 bench/campaign.py --check FILE                          # the checker alone
Three real nodes (scripts/test-cluster) behind one faulty link each (scripts/faulty-network); in
the links' client namespace, one or more sidecars (`pgfollow run`) and a cron loop (`pgfollow
once` every 2 s), each with its own application file and a stand-in systemctl that logs every
restart. The seed (printed first) draws the episodes: failovers (the primary killed, frozen or
blackholed; a standby promoted; its row written the seed's way or by `pgfollow record`; the old
primary back writable on its old timeline for a while), and around them links delayed, lossy or
cut (one node, or the followers' host from all), a standby's clock an hour off, the restart
command failing or hanging, the applications' directory full, pgfollow killed with SIGKILL and
started again, and a reload. The same seed draws the same episodes. Exits 1 on any violation.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign_check  # noqa: E402
from benchlib import BINARY, CLUSTER, ROOT, cluster, node_processes, signal_all  # noqa: E402

NETWORK = os.path.join(ROOT, "scripts/faulty-network")
NODES = ["node1", "node2", "node3"]
INTERVAL, QUERY_TIMEOUT = 1.0, 1.5
CRON_EVERY = 2.0


# --- The schedule: everything random is drawn here, from the seed alone -----------------------

def draw_episode(rng):
    """One episode's faults; the driver maps standby and node indexes to nodes at run time."""
    episode = {"failover": rng.random() < 0.7, "quiet": round(rng.uniform(1, 4), 2)}
    if episode["failover"]:
        episode.update({
            "fault": rng.choice(["kill", "freeze", "blackhole"]),
            "tool_delay": round(rng.uniform(0.1, 1.0), 2),
            "promote": rng.randrange(2),
            "writer": rng.choice(["seed", "record"]),
            "record_delay": round(rng.uniform(0, 1.0), 2),
            "split_brain": round(rng.uniform(3, 10), 2) if rng.random() < 0.35 else None,
            "restart_fault": rng.choice([None] * 4 + [("fail", 6), ("hang", 8)]),
            "full": round(rng.uniform(2, 6), 2) if rng.random() < 0.1 else None,
            "kill_after_row": {"after": round(rng.uniform(0, 3), 2), "follower": rng.randrange(8)}
            if rng.random() < 0.3 else None,
            "reload_after_row": round(rng.uniform(0, 1.0), 2) if rng.random() < 0.2 else None,
            "kill_mid_restart": rng.randrange(8) if rng.random() < 0.25 else None,
        })
    else:
        episode["length"] = round(rng.uniform(5, 12), 2)
    if rng.random() < 0.5:
        target = "all" if rng.random() < 0.15 else rng.randrange(3)
        kind = rng.choice(["delay", "loss", "cut"])
        value = {"delay": rng.randrange(50, 301), "loss": round(rng.uniform(0.1, 0.3), 2),
                 "cut": 1}[kind]
        episode["link"] = {"target": target, "kind": kind, "value": value,
                           "at": round(rng.uniform(0, 6), 2), "for": round(rng.uniform(2, 8), 2)}
    if rng.random() < 0.12:
        episode["skew"] = {"standby": rng.randrange(2), "offset": rng.choice(["+1h", "-1h"])}
    if rng.random() < 0.2:
        episode["kill"] = {"at": round(rng.uniform(0, 8), 2), "down": round(rng.uniform(0.2, 2), 2),
                           "follower": rng.randrange(8)}
    if rng.random() < 0.1:
        episode["reload"] = round(rng.uniform(0, 8), 2)
    return episode


def digest(episodes):
    """A short fingerprint of a list of episodes, to tell that a replay drew the same."""
    return hashlib.sha256(json.dumps(episodes, sort_keys=True).encode()).hexdigest()[:16]


def schedule(seed):
    """The seed's episodes, endlessly and always the same."""
    rng = random.Random(seed)
    while True:
        yield draw_episode(rng)


# --- The world: nodes, links, followers, and what happened ------------------------------------

class Recorder:
    def __init__(self):
        self.events, self.lock = [], threading.Lock()

    def add(self, kind, t=None, **fields):
        with self.lock:
            self.events.append({"t": time.time() if t is None else t, "kind": kind, **fields})

    def fault(self, name, **fields):
        self.add("fault", name=name, **fields)


def run(argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True)


class Cluster:
    """scripts/test-cluster's three nodes, as the failover tool and the ground truth see them."""

    def __init__(self, work):
        self.dir = f"{work}/cluster"
        cluster("start", self.dir, "3")
        self.ports = {node: open(f"{self.dir}/{node}.port").read().strip() for node in NODES}
        self.frozen = {}

    def admin(self, node, database="pg_state"):
        return f"host=127.0.0.1 port={self.ports[node]} user=postgres dbname={database}"

    def sql(self, node, statement):
        return cluster("sql", self.dir, node, statement).strip()

    def timeline(self, node):
        return int(self.sql(node, "select substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)"), 16)

    def freeze(self, node):
        self.frozen[node] = node_processes(self.dir, node)
        signal_all(self.frozen[node], signal.SIGSTOP)

    def thaw(self, node):
        signal_all(self.frozen.pop(node, []), signal.SIGCONT)

    def kill(self, node):
        if node in self.frozen:  # a stopped postmaster hears no shutdown request
            signal_all(self.frozen.pop(node), signal.SIGKILL)
            time.sleep(0.2)
            return
        run([CLUSTER, "kill", self.dir, node], check=False)

    def connections(self, node):
        return int(self.sql(node, "select count(*) from pg_stat_activity "
                                  "where application_name = 'pgfollow'"))


class Links:
    """One faulty link per node; faults come in layers (a failover's blackhole, a background
    fault), and a link carries all of its layers at once."""

    def __init__(self, work, ports):
        self.work, self.layers, self.lock = work, {node: {} for node in NODES}, threading.Lock()
        self.addresses = {}
        for index, node in enumerate(NODES, 1):
            run([NETWORK, "up", work, node, ports[node], str(index)])
            self.addresses[node] = run([NETWORK, "address", work, node]).stdout.strip()

    def set(self, node, layer, settings):
        with self.lock:
            if settings:
                self.layers[node][layer] = settings
            else:
                self.layers[node].pop(layer, None)
            merged = {}
            for values in self.layers[node].values():
                for key, value in values.items():
                    merged[key] = max(merged.get(key, 0), value)
            run([NETWORK, "set", self.work, node, *(f"{k}={v}" for k, v in merged.items())])

    def clear(self):
        for node in NODES:
            for layer in list(self.layers[node]):
                self.set(node, layer, None)


STAND_IN = '''#!/usr/bin/python3
# A stand-in systemctl: logs each call, fails or hangs while restart.fault says so, and kills
# pgfollow (its parent) in the middle of the restart once when kill-parent exists.
import json, os, signal, sys, time, uuid
here, app = {here!r}, {app!r}
begin, call = time.time(), uuid.uuid4().hex
try:
    fault = json.load(open(here + "/restart.fault"))
except (OSError, ValueError):
    fault = {{}}
leader = None
try:
    for line in open(app):
        if "# the primary" in line:
            leader = line.split("address:")[1].split()[0].split(":")[0]
except OSError:
    pass
def log(**fields):
    with open(here + "/restarts.jsonl", "a") as out:
        out.write(json.dumps(dict(call=call, args=sys.argv[1:], **fields)) + "\\n")
log(begin=begin, leader=leader)
if sys.argv[1:2] == ["restart"]:
    try:
        os.remove(here + "/kill-parent")
        log(killed_parent=os.getppid(), at=time.time())
        os.kill(os.getppid(), signal.SIGKILL)
    except OSError:
        pass
if begin < fault.get("until", 0):
    if fault["mode"] == "fail":
        log(end=time.time(), ok=False)
        sys.exit(1)
    time.sleep(fault["seconds"])
log(end=time.time(), ok=True)
'''


def parse_restarts(lines):
    """The restart command's calls from the stand-in's log: begin, end (None if it never
    ended), ok, leader; other systemctl calls left out."""
    calls = {}
    for entry in map(json.loads, lines):
        if (entry.get("args") or [""])[0] != "restart" or "killed_parent" in entry:
            continue
        call = calls.setdefault(entry["call"], {"end": None, "ok": False})
        call.update({k: v for k, v in entry.items() if k in ("begin", "leader", "end", "ok")})
    return sorted(calls.values(), key=lambda call: call["begin"])


class Follower:
    """One application host's pgfollow: its file in the shared applications' directory, its state,
    its configuration, its stand-in systemctl and its restart log."""

    def __init__(self, campaign, name, metrics_port=None):
        self.name, self.campaign = name, campaign
        self.dir = f"{campaign.work}/{name}"
        os.makedirs(f"{self.dir}/state")
        self.app = f"{campaign.apps}/{name}/app.yaml"
        os.makedirs(os.path.dirname(self.app))
        shutil.copy(f"{ROOT}/examples/app.yaml", self.app)
        with open(f"{self.dir}/systemctl", "w") as out:
            out.write(STAND_IN.format(here=self.dir, app=self.app))
        os.chmod(f"{self.dir}/systemctl", 0o755)
        self.config = f"{self.dir}/pgfollow.yaml"
        with open(self.config, "w") as out:
            out.write(self.configuration(campaign.links.addresses, metrics_port))
        self.log = open(f"{self.dir}/pgfollow.log", "a")

    def configuration(self, addresses, metrics_port):
        lines = ["nodes:"]
        for node in NODES:
            lines += [f"  - name: {node}",
                      f"    conninfo: host={addresses[node]} port=5432 dbname=pg_state user=pgfollow",
                      f"    address: {node}:5432"]
        lines += ["apps:", "  - name: shop", f"    file: {self.app}", "    set:",
                  '      db_master[0].address: "{leader.address}"', "    restart:",
                  "      units: [shop.service]", f"      systemctl: {self.dir}/systemctl",
                  "      timeout: 5s",
                  "timeouts:", "  connect: 2s", f"  query: {int(QUERY_TIMEOUT * 1000)}ms",
                  "run:", f"  interval: {int(INTERVAL * 1000)}ms", "  restart_max_per_hour: 3600",
                  f"state_directory: {self.dir}/state",
                  "metrics:", f"  listen: {f'127.0.0.1:{metrics_port}' if metrics_port else 'off'}"]
        return "\n".join(lines) + "\n"

    def command(self, *argv):
        return [NETWORK, "exec", self.campaign.work, BINARY, *argv, "-c", self.config]

    def restart_fault(self, mode, seconds, until):
        with open(f"{self.dir}/restart.fault.new", "w") as out:
            json.dump({"mode": mode, "seconds": seconds, "until": until}, out)
        os.rename(f"{self.dir}/restart.fault.new", f"{self.dir}/restart.fault")

    def log_lines(self):
        try:
            return open(f"{self.dir}/restarts.jsonl").read().splitlines()
        except FileNotFoundError:
            return []

    def restarts(self):
        return parse_restarts(self.log_lines())

    def killed_mid_restart(self):
        """(pid, when) of each pgfollow the stand-in killed in the middle of a restart."""
        return [(entry["killed_parent"], entry["at"]) for entry in map(json.loads, self.log_lines())
                if "killed_parent" in entry]


class Sidecar(Follower):
    """`pgfollow run`, one process at a time: whoever ends it (the campaign, the stand-in in the
    middle of a restart, a crash) starts it again after a pause, unless one already runs."""

    def __init__(self, campaign, name, metrics_port):
        super().__init__(campaign, name, metrics_port)
        self.process, self.lock, self.expected, self.stopped = None, threading.Lock(), False, False
        self.start()

    def start(self):
        with self.lock:
            if self.stopped or (self.process is not None and self.process.poll() is None):
                return
            self.expected = False
            self.log.flush()
            self.started_at = os.path.getsize(self.log.name)
            self.process = subprocess.Popen(self.command("run", "--log-level", "info"),
                                            stdout=self.log, stderr=self.log,
                                            stdin=subprocess.DEVNULL)

    def start_after(self, seconds):
        threading.Thread(target=lambda: (time.sleep(seconds), self.start()), daemon=True).start()

    def kill(self, down):
        with self.lock:
            self.expected = True
            self.process.kill()
            self.process.wait()
        self.campaign.recorder.add("killed", follower=self.name)
        self.start_after(down)

    def reload(self):
        with self.lock:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGHUP)

    def watch(self):
        """Records an exit that the campaign did not cause (a kill mid-restart it did cause),
        and starts the sidecar again half a second later, as systemd would."""
        with self.lock:
            status = self.process.poll()
            if status is None or self.expected:
                return
            self.expected = True  # handled: the next look must not count it again
            killed = [at for pid, at in self.killed_mid_restart() if pid == self.process.pid]
        if killed and status == -signal.SIGKILL:
            self.campaign.recorder.add("killed", t=killed[0], follower=self.name)
        else:
            self.campaign.recorder.add("crashed", follower=self.name, status=status)
        self.start_after(0.5)

    def stop(self):
        with self.lock:
            self.expected = self.stopped = True
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout=30)

    def pid(self):
        return self.process.pid

    def hedged(self):
        """The nodes this process probes over a second connection now, by its own log."""
        with open(self.log.name) as log:
            log.seek(self.started_at)
            hedged = set()
            for line in log:
                for node in NODES:
                    if f"node {node} answers late often" in line:
                        hedged.add(node)
                    elif f"node {node} answers in time again" in line:
                        hedged.discard(node)
        return hedged


class CronLoop(Follower):
    """`pgfollow once` every CRON_EVERY seconds, as the cron loop runs it."""

    def __init__(self, campaign, name):
        super().__init__(campaign, name)
        self.process, self.lock, self.running = None, threading.Lock(), True
        self.exits = {}
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while self.running:
            with self.lock:
                self.process = subprocess.Popen(self.command("once", "--log-level", "notice"),
                                                stdout=self.log, stderr=self.log,
                                                stdin=subprocess.DEVNULL)
                process = self.process
            status = process.wait()
            self.exits[status] = self.exits.get(status, 0) + 1
            for pid, at in self.killed_mid_restart():
                if pid == process.pid:
                    self.campaign.recorder.add("killed", t=at, follower=self.name)
            if status < 0 and status != -signal.SIGKILL:
                self.campaign.recorder.add("crashed", follower=self.name, status=status)
            time.sleep(CRON_EVERY)

    def kill(self, down):
        with self.lock:
            if self.process and self.process.poll() is None:
                self.process.kill()
                self.campaign.recorder.add("killed", follower=self.name)

    def reload(self):
        pass

    def watch(self):
        pass

    def stop(self):
        self.running = False
        self.thread.join(timeout=60)
        return 0


class FileWatcher(threading.Thread):
    """Every version of each application file: whole (the original with one value changed) or
    not, and which node it names; timed by the file's mtime."""

    def __init__(self, campaign):
        super().__init__(daemon=True)
        self.campaign, self.done = campaign, threading.Event()
        original = open(f"{ROOT}/examples/app.yaml").read()
        line = next(text for text in original.splitlines(True) if "# the primary" in text)
        self.expected = {original.replace(line, line.replace("node1:5432", f"{node}:5432"), 1): node
                         for node in NODES}
        self.seen = {}

    def look(self, follower):
        try:
            with open(follower.app, "rb") as file:
                stat = os.fstat(file.fileno())
                key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
                if self.seen.get(follower.name) == key:
                    return
                text = file.read().decode("utf-8", errors="replace")
        except OSError:
            return
        first = follower.name not in self.seen
        self.seen[follower.name] = key
        if first:
            return
        leader = self.expected.get(text)
        self.campaign.recorder.add("file", t=stat.st_mtime_ns / 1e9, follower=follower.name,
                                   whole=leader is not None, leader=leader,
                                   detail="" if leader else hashlib.sha256(text.encode()).hexdigest())

    def run(self):
        try:
            while not self.done.is_set():
                for follower in self.campaign.followers:
                    self.look(follower)
                    follower.watch()
                time.sleep(0.01)
        except Exception as error:  # the checks would be blind from here on: say so
            self.campaign.recorder.add("error", what=f"the file watcher stopped: {error!r}")

    def leader(self, follower):
        try:
            return self.expected.get(open(follower.app).read())
        except OSError:
            return None


# --- The campaign ------------------------------------------------------------------------------

class Campaign:
    def __init__(self, seed, sidecars, bound):
        self.seed, self.bound = seed, bound
        self.recorder = Recorder()
        self.work = tempfile.mkdtemp(prefix="pgfollow-campaign-")
        os.chmod(self.work, 0o755)
        self.apps = f"{self.work}/apps"
        os.makedirs(self.apps)
        self.timers, self.counts, self.serial = [], {}, 0
        self.counting = threading.Lock()
        run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "pgfollow-campaign", self.apps])
        try:
            self.start(sidecars)
        except BaseException:
            self.close()
            raise

    def start(self, sidecars):
        self.cluster = Cluster(self.work)
        run([BINARY, "init", "--conninfo", self.cluster.admin("node1", "postgres")])
        run([BINARY, "record", "--conninfo", self.cluster.admin("node1"), "--name", "node1"])
        time.sleep(0.5)  # the row replicates
        self.primary, self.standbys = "node1", ["node2", "node3"]
        self.recorder.add("writable", node="node1", timeline=self.cluster.timeline("node1"))
        self.links = Links(self.work, self.cluster.ports)
        self.followers = [Sidecar(self, f"sidecar{i}", 9187 + i) for i in range(1, sidecars + 1)]
        self.followers.append(CronLoop(self, "cron"))
        self.files = FileWatcher(self)
        self.files.start()

    # Faults, each counted by kind for the figures.
    def count(self, kind):
        with self.counting:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            self.serial += 1
            return self.serial

    def later(self, seconds, action):
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        timer.start()
        self.timers.append(timer)

    def link_fault(self, spec):
        nodes = NODES if spec["target"] == "all" else [NODES[spec["target"]]]
        settings = {"delay": {"delay_ms": spec["value"]}, "loss": {"loss": spec["value"]},
                    "cut": {"blackhole": 1}}[spec["kind"]]
        where = "host" if spec["target"] == "all" else "node"
        kind = f"link {spec['kind']} ({where})"
        layer = f"background {self.count(kind)}"

        def begin():
            self.recorder.fault(f"link {spec['kind']}", nodes=nodes, value=spec["value"])
            for node in nodes:
                self.links.set(node, layer, settings)
            self.later(spec["for"], lambda: [self.links.set(n, layer, None) for n in nodes])
        self.later(spec["at"], begin)

    def kill_follower(self, index, down):
        follower = self.followers[index % len(self.followers)]
        self.count(f"pgfollow killed ({'cron' if isinstance(follower, CronLoop) else 'sidecar'})")
        self.recorder.fault("kill pgfollow", follower=follower.name)
        threading.Thread(target=follower.kill, args=(down,), daemon=True).start()

    def reload(self):
        self.count("reload")
        self.recorder.fault("reload")
        for follower in self.followers:
            follower.reload()

    def skew(self, spec):
        node = self.standbys[spec["standby"]]
        self.count("clock an hour off")
        self.recorder.fault("skew", node=node, offset=spec["offset"])
        run([CLUSTER, "skew", self.cluster.dir, node, spec["offset"]], check=False)

    def restart_fault(self, mode, seconds):
        self.count(f"restart {'fails' if mode == 'fail' else 'hangs'}")
        self.recorder.fault(f"restart {mode}", seconds=seconds)
        for follower in self.followers:
            follower.restart_fault(mode, seconds, time.time() + seconds)

    def directory_full(self, seconds):
        serial = self.count("application directory full")
        self.recorder.fault("directory full", seconds=seconds)
        filler = f"{self.apps}/filler-{serial}"
        with open(filler, "wb") as out:
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        self.later(seconds, lambda: os.path.exists(filler) and os.remove(filler))

    def background(self, episode):
        if "link" in episode:
            self.link_fault(episode["link"])
        if "skew" in episode:
            self.skew(episode["skew"])
        if "kill" in episode:
            spec = episode["kill"]
            self.later(spec["at"], lambda: self.kill_follower(spec["follower"], spec["down"]))
        if "reload" in episode:
            self.later(episode["reload"], self.reload)

    # The failover itself.
    def fail(self, node, fault):
        self.count(f"primary {fault}")
        self.recorder.fault(f"primary {fault}", node=node)
        if fault == "kill":
            self.cluster.kill(node)
            self.recorder.add("unwritable", node=node)
        elif fault == "freeze":
            self.recorder.add("unwritable", node=node)
            self.cluster.freeze(node)
        else:
            self.links.set(node, "failover", {"blackhole": 1})

    def come_back(self, node, fault, timeline):
        """The old primary writable again on its old timeline: a split brain."""
        self.count("split brain")
        self.recorder.fault("split brain", node=node)
        if fault == "kill":
            run([CLUSTER, "restart", self.cluster.dir, node], check=False)
            self.recorder.add("writable", node=node, timeline=timeline)
        elif fault == "freeze":
            self.cluster.thaw(node)
            self.recorder.add("writable", node=node, timeline=timeline)
        else:
            self.links.set(node, "failover", None)

    def write_row(self, node, writer):
        started = time.time()
        if writer == "seed":
            self.cluster.sql(node, "insert into failover_log values "
                                   f"(extract(epoch from now())::int, '{node}')")
        else:
            run([BINARY, "record", "--conninfo", self.cluster.admin(node), "--name", node])
        self.recorder.add("row", t=started, node=node, writer=writer)

    def followed(self, node):
        """Every follower names `node` and its last restart ran with that file."""
        for follower in self.followers:
            if self.files.leader(follower) != node:
                return False
            calls = follower.restarts()
            if not calls or not calls[-1]["ok"] or calls[-1]["leader"] != node:
                return False
        return True

    def wait_followed(self, node, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline and not self.followed(node):
            time.sleep(0.05)

    def failover(self, episode):
        old, timeline = self.primary, self.cluster_timeline
        new = self.standbys[episode["promote"]]
        other = self.standbys[1 - episode["promote"]]
        if episode["restart_fault"]:
            self.restart_fault(*episode["restart_fault"])
        if episode["full"]:
            self.directory_full(episode["full"])
        self.fail(old, episode["fault"])
        time.sleep(episode["tool_delay"])
        if episode["kill_mid_restart"] is not None:
            follower = self.followers[episode["kill_mid_restart"] % len(self.followers)]
            self.count("pgfollow killed mid-restart")
            open(f"{follower.dir}/kill-parent", "w").close()
        promoting = time.time()  # the new timeline is the newest from here: strict for the old
        cluster("promote-only", self.cluster.dir, new)
        self.cluster_timeline = self.cluster.timeline(new)
        self.recorder.add("writable", t=promoting, node=new, timeline=self.cluster_timeline)
        time.sleep(episode["record_delay"])
        self.write_row(new, episode["writer"])
        if episode["kill_after_row"] is not None:
            spec = episode["kill_after_row"]
            self.later(spec["after"], lambda: self.kill_follower(spec["follower"], 0.5))
        if episode["reload_after_row"] is not None:
            self.later(episode["reload_after_row"], self.reload)
        if episode["split_brain"]:
            self.come_back(old, episode["fault"], timeline)
            time.sleep(episode["split_brain"])
        self.wait_followed(new, self.bound)
        self.cluster.kill(old)
        self.recorder.add("unwritable", node=old)
        self.links.set(old, "failover", None)
        for node in (old, other):
            cluster("rebuild", self.cluster.dir, node, new)
        self.primary, self.standbys = new, sorted([old, other])

    def episode(self, episode):
        self.background(episode)
        if episode["failover"]:
            self.failover(episode)
        else:
            time.sleep(episode["length"])
        time.sleep(episode["quiet"])

    def settle(self):
        """Every fault healed; the followers given the bound to name the primary."""
        for timer in self.timers:
            timer.cancel()
        self.links.clear()
        for follower in self.followers:
            follower.restart_fault("fail", 0, 0)
            if os.path.exists(f"{follower.dir}/kill-parent"):
                os.remove(f"{follower.dir}/kill-parent")
        for name in os.listdir(self.apps):
            if name.startswith("filler-"):
                os.remove(f"{self.apps}/{name}")
        for node in list(self.cluster.frozen):
            self.cluster.thaw(node)
        time.sleep(1)
        for follower in self.followers:
            follower.watch()
        self.wait_followed(self.primary, self.bound)

    def client_sockets(self):
        """Established TCP connections in the followers' namespace: peer address -> owners."""
        listing = run([NETWORK, "exec", self.work, "ss", "-tnpH", "state", "established"]).stdout
        held = {}
        for line in listing.splitlines():
            fields = line.split()
            peer = fields[3].rsplit(":", 1)[0] if len(fields) > 3 else ""
            held.setdefault(peer, []).append(fields[-1] if "users:" in line else "no process")
        return held

    def sidecars(self):
        return [follower for follower in self.followers if isinstance(follower, Sidecar)]

    def descriptors(self):
        """Each sidecar's open descriptors (one that is being started again is waited for)."""
        counts = {}
        for sidecar in self.sidecars():
            for _ in range(100):
                try:
                    counts[sidecar.name] = len(os.listdir(f"/proc/{sidecar.pid()}/fd"))
                    break
                except FileNotFoundError:
                    time.sleep(0.1)
        return counts

    def leaks(self, baseline):
        """Descriptors, connections and files left over once everything has settled. A node a
        sidecar probes over a second connection (it answered late often) may hold one more."""
        hedged = {sidecar.name: sidecar.hedged() for sidecar in self.sidecars()}
        for name, fds in self.descriptors().items():
            allowed = baseline.get(name, 0) + 2 + 4 * len(hedged[name])
            if fds > allowed:
                self.recorder.add("leak", what=f"{name} holds {fds} descriptors, "
                                               f"{baseline.get(name, 0)} at its start")
        held = self.client_sockets()
        for node in NODES:
            allowed = sum(1 + (node in nodes) for nodes in hedged.values())
            owners = held.get(self.links.addresses[node], [])
            if len(owners) > allowed:
                self.recorder.add("leak", what=f"the followers hold {len(owners)} connections to "
                                               f"{node} ({', '.join(owners)}), {allowed} expected")
            # A session of a pgfollow killed while its link was cut ends once its FIN gets
            # through, which TCP retries with a growing back-off: give it a minute.
            deadline = time.time() + 60
            while self.cluster.connections(node) > allowed and time.time() < deadline:
                time.sleep(0.5)
            count = self.cluster.connections(node)
            if count > allowed:
                sessions = self.cluster.sql(node, "select string_agg(format('%s since %s (%s)', "
                                            "client_port, backend_start, state), '; ') from "
                                            "pg_stat_activity where application_name = 'pgfollow'")
                self.recorder.add("leak", what=f"{node} has {count} pgfollow sessions, {allowed} "
                                               f"expected: {sessions}")
        for follower in self.followers:
            for where in (os.path.dirname(follower.app), f"{follower.dir}/state"):
                extra = [name for name in os.listdir(where) if ".pgfollow-" in name
                         or ".tmp-" in name]
                if extra:
                    self.recorder.add("leak", what=f"left in {where}: {', '.join(extra)}")

    def run(self, minutes):
        """The episodes until `minutes` have passed, then everything healed and checked for
        leaks. An error of the campaign's own is recorded as one, so that it fails the run."""
        self.drawn = []
        try:
            time.sleep(3)
            baseline = self.descriptors()
            self.cluster_timeline = self.cluster.timeline("node1")
            deadline = time.time() + minutes * 60
            for episode in schedule(self.seed):
                if time.time() >= deadline:
                    break
                self.drawn.append(episode)
                self.episode(episode)
                print(f"episode {len(self.drawn)}: primary {self.primary}, "
                      f"faults {sum(self.counts.values())}", file=sys.stderr, flush=True)
            self.settle()
            time.sleep(3)
            for follower in self.followers:
                if isinstance(follower, CronLoop):
                    follower.stop()
            self.leaks(baseline)
            for sidecar in self.sidecars():
                status = sidecar.stop()
                if status != 0:
                    self.recorder.add("crashed", follower=sidecar.name, status=status)
        except Exception as error:
            self.recorder.add("error", what=f"the campaign stopped: {error!r}")
        finally:
            self.files.done.set()
            self.files.join()

    def history(self, started):
        events = list(self.recorder.events)
        for follower in self.followers:
            for call in follower.restarts():
                events.append({"t": call["begin"], "kind": "restart", "follower": follower.name,
                               **call})
        events.sort(key=lambda event: event["t"])
        return {"settings": {"seed": self.seed, "window": INTERVAL + QUERY_TIMEOUT + 0.5,
                             "bound": self.bound, "nodes": NODES, "start": started,
                             "end": time.time(), "episodes": self.drawn,
                             "followers": [follower.name for follower in self.followers],
                             "faults": self.counts,
                             "cron_exits": {str(k): v for k, v in self.followers[-1].exits.items()}},
                "events": events}

    def keep(self, where):
        """The followers' logs and restart logs, and the nodes' logs, copied to `where`."""
        os.makedirs(where, exist_ok=True)
        for follower in getattr(self, "followers", []):
            for name in ("pgfollow.log", "restarts.jsonl"):
                if os.path.exists(f"{follower.dir}/{name}"):
                    shutil.copy(f"{follower.dir}/{name}", f"{where}/{follower.name}.{name}")
        for name in os.listdir(f"{self.work}/cluster") if os.path.isdir(f"{self.work}/cluster") else []:
            if name.endswith(".log"):
                shutil.copy(f"{self.work}/cluster/{name}", f"{where}/{name}")

    def close(self):
        """Everything the campaign started, stopped and removed, however far it got."""
        for timer in self.timers:
            timer.cancel()
        for follower in getattr(self, "followers", []):
            if isinstance(follower, CronLoop):
                follower.running = False
            else:
                with follower.lock:
                    follower.stopped = True
                if follower.process.poll() is None:
                    follower.process.kill()
                    follower.process.wait()
        if hasattr(self, "cluster"):
            for node in list(self.cluster.frozen):
                self.cluster.kill(node)
        run([CLUSTER, "stop", f"{self.work}/cluster"], check=False)
        run([NETWORK, "down", self.work], check=False)
        if run(["umount", "-l", self.apps], check=False).returncode == 0:
            shutil.rmtree(self.work, ignore_errors=True)


# --- Figures ----------------------------------------------------------------------------------

def report(history, violations):
    settings = history["settings"]
    lines = [f"seed {settings['seed']}: {len(settings['episodes'])} episodes (schedule "
             f"{digest(settings['episodes'])}) in "
             f"{(settings['end'] - settings['start']) / 60:.1f} min, "
             f"followers {', '.join(settings['followers'])}", "",
             "| fault injected | count |", "|---|---:|"]
    lines += [f"| {kind} | {count} |" for kind, count in sorted(settings["faults"].items())]
    results = campaign_check.follow_times(history)
    lines += ["", "| how the primary failed | follower | promotions | row → file | row → restart |",
              "|---|---|---:|---|---|"]
    kinds = {}
    last_fault = None
    for event in history["events"]:
        if event["kind"] == "fault" and event["name"].startswith("primary "):
            last_fault = event["name"].split()[1]
        elif event["kind"] == "row":
            kinds[event["t"]] = last_fault
    for fault in ("kill", "freeze", "blackhole"):
        for follower in settings["followers"]:
            chosen = [r for r in results if kinds.get(r["row"]["t"]) == fault
                      and r["follower"] == follower]
            files = [r["file"] for r in chosen if r["file"] is not None]
            restarts = [r["restart"] for r in chosen if r["restart"] is not None]
            lines.append(f"| {fault} | {follower} | {len(chosen)} | "
                         f"{campaign_check.distribution(files)} | "
                         f"{campaign_check.distribution(restarts)} |")
    unfollowed = [r for r in results if r["file"] is None]
    lines += ["", f"failovers: {len(kinds)}; rows superseded before a follower named them: "
                  f"{len(unfollowed)}; cron loop exits: {settings['cron_exits']}",
              f"violations: {len(violations)}"]
    lines += [f"- {v['check']} at {v['t']:.3f}: {v['what']}" for v in violations[:40]]
    if len(violations) > 40:
        lines.append(f"- and {len(violations) - 40} more (--history keeps them all)")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--sidecars", type=int, default=2)
    parser.add_argument("--bound", type=float, default=30)
    parser.add_argument("--history", help="where to save the history (JSON)")
    parser.add_argument("--keep", metavar="DIR", help="copy the logs there at the end")
    parser.add_argument("--schedule", action="store_true", help="print the seed's episodes")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--check", metavar="FILE", help="check a saved history")
    parser.add_argument("--window", type=float, help="with --check: another window (seconds)")
    arguments = parser.parse_args()
    if arguments.check:
        history = json.load(open(arguments.check))
        if arguments.window is not None:
            history["settings"]["window"] = arguments.window
        violations = campaign_check.check(history)
        print(report(history, violations))
        return 1 if violations else 0
    seed = arguments.seed if arguments.seed is not None else random.SystemRandom().randrange(10**9)
    replay = (f"python3 bench/campaign.py --seed {seed} --minutes {arguments.minutes:g} "
              f"--sidecars {arguments.sidecars} --bound {arguments.bound:g}")
    print(f"campaign seed {seed} (replay: {replay})", flush=True)
    if arguments.schedule:
        episodes = schedule(seed)
        drawn = [next(episodes) for _ in range(arguments.episodes)]
        for episode in drawn:
            print(json.dumps(episode, sort_keys=True))
        print(f"schedule {digest(drawn)} ({len(drawn)} episodes)")
        return 0
    campaign = Campaign(seed, arguments.sidecars, arguments.bound)
    started = time.time()
    try:
        campaign.run(arguments.minutes)
        history = campaign.history(started)
        if arguments.keep:
            campaign.keep(arguments.keep)
    finally:
        campaign.close()
    if arguments.history:
        with open(arguments.history, "w") as out:
            json.dump(history, out)
    violations = campaign_check.check(history)
    print(report(history, violations))
    print(f"campaign seed {seed}: {len(violations)} violations (replay: {replay})", flush=True)
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())

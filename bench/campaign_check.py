"""The fault campaign's checker: pure functions over the history bench/campaign.py records.

A history is a dict: "settings" (window, bound, nodes, followers) and "events", each a dict with
"t" (seconds since the epoch, the host's clock) and "kind":
  writable      node became writable on timeline (promoted, thawed, started again as a primary)
  unwritable    node stopped being writable (killed, frozen, rebuilt as a standby)
  row           a failover row naming node was committed on it (t: just before the insert)
  file          follower's application file changed: leader it names, or whole=False
  restart       follower's restart command ran: begin, end (None if it never ended), ok, leader
  killed        follower's pgfollow was killed (SIGKILL) by the campaign
  crashed       follower's pgfollow ended by itself, with its exit status
  fault         a fault injected (for the figures): name, and what it touched
  leak          end of run: what was left over (fds, connections, temporary files)
Each check returns violations: dicts with "check", "t" and "what", in words a person can act on.
"""
import statistics


def intervals(events):
    """Each node's writable spans: [(node, timeline, begin, end or None)], in order of begin."""
    open_spans, spans = {}, []
    for event in events:
        if event["kind"] == "writable":
            if event["node"] in open_spans:
                continue
            span = [event["node"], event["timeline"], event["t"], None]
            open_spans[event["node"]] = span
            spans.append(span)
        elif event["kind"] == "unwritable" and event["node"] in open_spans:
            open_spans.pop(event["node"])[3] = event["t"]
    return [tuple(span) for span in spans]


def newest_timeline(spans, moment):
    """The newest timeline any node had become writable on by `moment`."""
    started = [timeline for _, timeline, begin, _ in spans if begin <= moment]
    return max(started) if started else None


def was_newest_writable(spans, node, begin, end):
    """Whether `node` was writable on the newest timeline at some moment in [begin, end]."""
    for name, timeline, start, stop in spans:
        if name != node:
            continue
        low, high = max(start, begin), min(stop if stop is not None else end, end)
        # The newest timeline only grows, so the earliest moment of the overlap decides.
        if low <= high and newest_timeline(spans, low) == timeline:
            return True
    return False


def by_follower(events, kind):
    found = {}
    for event in events:
        if event["kind"] == kind:
            found.setdefault(event["follower"], []).append(event)
    return found


def check_files(history):
    """Every version of every application file is whole, and names a node that was writable on
    the newest timeline within the window before it was written."""
    window = history["settings"]["window"]
    spans = intervals(history["events"])
    violations = []
    for follower, changes in by_follower(history["events"], "file").items():
        for change in changes:
            if not change["whole"]:
                violations.append({"check": "whole file", "t": change["t"], "what":
                                   f"{follower}'s file is not the original with one value "
                                   f"changed: {change.get('detail', '')}"})
            elif not was_newest_writable(spans, change["leader"], change["t"] - window,
                                         change["t"]):
                violations.append({"check": "leader", "t": change["t"], "what":
                                   f"{follower}'s file names {change['leader']}, not writable on "
                                   f"the newest timeline in the {window:g} s before"})
    return violations


def promotions(history):
    """Each row with how long it stood: until its node stopped being writable, a newer timeline
    began, or the run ended. [(row, stood_until)]"""
    end = history["settings"]["end"]
    spans = intervals(history["events"])
    found = []
    for row in (event for event in history["events"] if event["kind"] == "row"):
        for node, timeline, begin, stop in spans:
            if node != row["node"] or begin > row["t"] or (stop is not None and stop < row["t"]):
                continue
            newer = [b for _, t, b, _ in spans if t > timeline and b >= row["t"]]
            found.append((row, min([end, stop if stop is not None else end] + newer)))
    return found


def follow_times(history):
    """For each row and follower: seconds from the row to the file naming its node, and to the
    first successful restart that served it; None where none came while the row stood."""
    files = by_follower(history["events"], "file")
    restarts = by_follower(history["events"], "restart")
    results = []
    for row, stood_until in promotions(history):
        for follower in history["settings"]["followers"]:
            named = [c["t"] for c in files.get(follower, [])
                     if c.get("leader") == row["node"] and row["t"] <= c["t"] <= stood_until]
            served = [r["begin"] for r in restarts.get(follower, [])
                      if r["ok"] and r["leader"] == row["node"] and named
                      and r["begin"] >= named[0]]
            results.append({"row": row, "follower": follower, "stood": stood_until - row["t"],
                            "file": named[0] - row["t"] if named else None,
                            "restart": served[0] - row["t"] if served else None})
    return results


def check_following(history):
    """Every promotion that stood for the bound was followed, file and restart, within it."""
    bound = history["settings"]["bound"]
    violations = []
    for result in follow_times(history):
        row, follower = result["row"], result["follower"]
        for what in ("file", "restart"):
            late = result[what] is None or result[what] > bound
            if late and result["stood"] >= bound:
                violations.append({"check": "followed", "t": row["t"], "what":
                                   f"{follower}: no {what} naming {row['node']} within {bound:g} s "
                                   f"of its row, which stood {result['stood']:.1f} s"})
    return violations


def leader_changes(changes, first_leader):
    """The versions of a file that name another node than the version before them."""
    found, leader = [], first_leader
    for change in changes:
        if change.get("leader") != leader:
            found.append(change)
        leader = change.get("leader")
    return found


def check_restarts(history):
    """A restart only for a change of leader, again only after a failed or unfinished call or a
    kill of pgfollow (which may not have recorded the one it ran); every version of the file
    followed by a successful restart within the bound: no restart owed is lost."""
    bound, end = history["settings"]["bound"], history["settings"]["end"]
    first = history["settings"].get("first_leader", "node1")
    files = by_follower(history["events"], "file")
    kills = by_follower(history["events"], "killed")
    restarts = by_follower(history["events"], "restart")
    violations = []
    for follower, calls in restarts.items():
        changes = [c["t"] for c in leader_changes(files.get(follower, []), first)]
        killed = [k["t"] for k in kills.get(follower, [])]
        for earlier, later in zip(calls, calls[1:]):
            between = lambda times: any(earlier["begin"] < t <= later["begin"] for t in times)
            if earlier["ok"] and not between(changes) and not between(killed):
                violations.append({"check": "one restart per change", "t": later["begin"], "what":
                                   f"{follower} ran its restart at {later['begin']:.3f} with no "
                                   f"change since its restart at {earlier['begin']:.3f}"})
    for follower, versions in files.items():
        killed = [k["t"] for k in kills.get(follower, [])]
        for earlier, later in zip(versions, versions[1:]):
            if earlier.get("leader") == later.get("leader") and not any(
                    earlier["t"] < t <= later["t"] for t in killed):
                violations.append({"check": "one restart per change", "t": later["t"], "what":
                                   f"{follower}'s file was written again naming "
                                   f"{later.get('leader')} with no change of leader"})
        done = [r["begin"] for r in restarts.get(follower, []) if r["ok"]]
        for change in versions:
            after = [begin for begin in done if begin >= change["t"]]
            if end - change["t"] < bound and not after:
                continue  # too close to the end to judge
            if not after or after[0] - change["t"] > bound:
                violations.append({"check": "restart owed", "t": change["t"], "what":
                                   f"{follower}'s file changed at {change['t']:.3f} and no "
                                   f"restart followed within {bound:g} s"})
    return violations


def check_end(history):
    violations = []
    if not any(event["kind"] == "row" for event in history["events"]):
        violations.append({"check": "vacuous", "t": history["settings"]["end"],
                           "what": "no failover happened, so nothing was checked"})
    for event in history["events"]:
        if event["kind"] == "error":
            violations.append({"check": "campaign error", "t": event["t"], "what": event["what"]})
        elif event["kind"] == "leak":
            violations.append({"check": "leak", "t": event["t"], "what": event["what"]})
        elif event["kind"] == "crashed":
            violations.append({"check": "crash", "t": event["t"], "what":
                               f"{event['follower']}'s pgfollow ended by itself ({event['status']})"})
    return violations


def check(history):
    """Every violation the history shows, in order of time."""
    found = (check_files(history) + check_following(history) + check_restarts(history)
             + check_end(history))
    return sorted(found, key=lambda violation: violation["t"])


def distribution(values):
    values = sorted(values)
    if not values:
        return "none"
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return (f"median {statistics.median(values):.2f} s, p90 {p90:.2f} s, max {values[-1]:.2f} s "
            f"({len(values)})")

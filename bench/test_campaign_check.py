#!/usr/bin/env python3
"""The campaign's checker against small histories, each with one known violation or none:
    python3 bench/test_campaign_check.py"""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import campaign  # noqa: E402
import campaign_check  # noqa: E402


def history(*events, end=200.0, bound=30.0, followers=("sidecar1",)):
    return {"settings": {"window": 3.0, "bound": bound, "end": end, "followers": list(followers)},
            "events": sorted((dict(kind=kind, t=t, **fields) for t, kind, fields in events),
                             key=lambda event: event["t"])}


def failover(file_at=11.0, restart_at=11.1, leader="node2", ok=True):
    """node1 on timeline 1 killed at 10, node2 promoted onto 2 with its row, followed."""
    return [(0.0, "writable", {"node": "node1", "timeline": 1}),
            (10.0, "unwritable", {"node": "node1"}),
            (10.3, "writable", {"node": "node2", "timeline": 2}),
            (10.5, "row", {"node": "node2"}),
            (file_at, "file", {"follower": "sidecar1", "whole": True, "leader": leader}),
            (restart_at, "restart", {"follower": "sidecar1", "begin": restart_at,
                                     "end": restart_at + 0.01, "ok": ok, "leader": leader})]


def checks(found):
    return sorted(violation["check"] for violation in found)


class CheckerTests(unittest.TestCase):
    def test_a_followed_failover_is_clean(self):
        self.assertEqual(campaign_check.check(history(*failover())), [])
        [result] = campaign_check.follow_times(history(*failover()))
        self.assertAlmostEqual(result["file"], 0.5)
        self.assertAlmostEqual(result["restart"], 0.6)

    def test_a_stale_primary_named_is_a_violation(self):
        # node1 back writable on timeline 1 (a split brain), and the file goes back to it.
        events = failover() + [(20.0, "writable", {"node": "node1", "timeline": 1}),
                               (21.0, "file", {"follower": "sidecar1", "whole": True,
                                               "leader": "node1"})]
        self.assertIn("leader", checks(campaign_check.check(history(*events))))

    def test_a_node_writable_only_before_the_window_is_a_violation(self):
        events = failover(file_at=60.0, restart_at=60.1, leader="node1")
        self.assertIn("leader", checks(campaign_check.check(history(*events))))

    def test_a_node_killed_within_the_window_may_still_be_named(self):
        events = failover()[:1] + [(5.0, "file", {"follower": "sidecar1", "whole": True,
                                                  "leader": "node1"}),
                                   (6.0, "unwritable", {"node": "node1"})]
        self.assertNotIn("leader", checks(campaign_check.check(history(*events))))

    def test_a_broken_file_is_a_violation(self):
        events = failover() + [(12.0, "file", {"follower": "sidecar1", "whole": False,
                                               "leader": None})]
        self.assertIn("whole file", checks(campaign_check.check(history(*events))))

    def test_a_standing_promotion_never_followed_is_a_violation(self):
        events = failover()[:4]
        self.assertEqual(checks(campaign_check.check(history(*events))), ["followed", "followed"])

    def test_a_promotion_superseded_early_need_not_be_followed(self):
        events = failover()[:4] + [(15.0, "unwritable", {"node": "node2"})]
        self.assertEqual(campaign_check.check(history(*events)), [])

    def test_a_follow_slower_than_the_bound_is_a_violation(self):
        events = failover(file_at=45.0, restart_at=45.1)
        self.assertIn("followed", checks(campaign_check.check(history(*events))))

    def test_a_lost_restart_is_a_violation(self):
        events = failover(ok=False)
        self.assertIn("restart owed", checks(campaign_check.check(history(*events))))

    def test_a_retried_restart_is_not_a_second_restart(self):
        events = failover(ok=False) + [(14.0, "restart", {"follower": "sidecar1", "begin": 14.0,
                                                         "end": 14.1, "ok": True,
                                                         "leader": "node2"})]
        self.assertEqual(campaign_check.check(history(*events)), [])

    def test_a_second_restart_without_a_change_is_a_violation(self):
        events = failover() + [(30.0, "restart", {"follower": "sidecar1", "begin": 30.0,
                                                 "end": 30.1, "ok": True, "leader": "node2"})]
        self.assertEqual(checks(campaign_check.check(history(*events))),
                         ["one restart per change"])

    def test_a_kill_between_explains_a_second_restart(self):
        events = failover() + [(29.0, "killed", {"follower": "sidecar1"}),
                               (30.0, "restart", {"follower": "sidecar1", "begin": 30.0,
                                                  "end": 30.1, "ok": True, "leader": "node2"})]
        self.assertEqual(campaign_check.check(history(*events)), [])

    def test_leaks_and_crashes_are_violations(self):
        events = failover() + [(100.0, "leak", {"what": "left in apps: .app.yaml.pgfollow-x"}),
                               (50.0, "crashed", {"follower": "sidecar1", "status": -11})]
        self.assertEqual(checks(campaign_check.check(history(*events))), ["crash", "leak"])


class ScheduleTests(unittest.TestCase):
    def test_a_seed_draws_the_same_episodes_and_another_seed_others(self):
        first = campaign.schedule(42)
        again = campaign.schedule(42)
        other = campaign.schedule(43)
        drawn = [next(first) for _ in range(50)]
        self.assertEqual(drawn, [next(again) for _ in range(50)])
        self.assertNotEqual(drawn, [next(other) for _ in range(50)])
        self.assertEqual(campaign.digest(drawn), campaign.digest(list(drawn)))

    def test_every_fault_kind_is_drawn(self):
        episodes = campaign.schedule(7)
        drawn = [next(episodes) for _ in range(300)]
        failovers = [e for e in drawn if e["failover"]]
        self.assertEqual({e["fault"] for e in failovers}, {"kill", "freeze", "blackhole"})
        self.assertEqual({e["writer"] for e in failovers}, {"seed", "record"})
        for key in ("split_brain", "full", "kill_after_row", "reload_after_row",
                    "restart_fault"):
            self.assertTrue(any(e[key] for e in failovers), key)
        self.assertEqual({e["link"]["kind"] for e in drawn if "link" in e},
                         {"delay", "loss", "cut"})
        self.assertIn("all", {e["link"]["target"] for e in drawn if "link" in e})
        self.assertEqual({e["skew"]["offset"] for e in drawn if "skew" in e}, {"+1h", "-1h"})
        self.assertTrue(any("kill" in e for e in drawn) and any("reload" in e for e in drawn))


if __name__ == "__main__":
    unittest.main()

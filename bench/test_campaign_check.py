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

    def test_a_call_after_a_successful_one_without_a_change_is_a_violation(self):
        events = failover() + [(30.0, "restart", {"follower": "sidecar1", "begin": 30.0,
                                                 "end": 30.1, "ok": False, "leader": "node2"})]
        self.assertEqual(checks(campaign_check.check(history(*events))),
                         ["one restart per change"])

    def test_the_same_leader_written_again_is_a_violation(self):
        events = failover() + [(20.0, "file", {"follower": "sidecar1", "whole": True,
                                               "leader": "node2"}),
                               (20.1, "restart", {"follower": "sidecar1", "begin": 20.1,
                                                  "end": 20.2, "ok": True, "leader": "node2"})]
        self.assertEqual(checks(campaign_check.check(history(*events))),
                         ["one restart per change", "one restart per change"])

    def test_a_freeze_and_a_thaw_make_two_spans_on_one_timeline(self):
        events = [(0.0, "writable", {"node": "node1", "timeline": 1}),
                  (5.0, "unwritable", {"node": "node1"}),
                  (9.0, "writable", {"node": "node1", "timeline": 1}),
                  (9.5, "unwritable", {"node": "node1"})]
        spans = campaign_check.intervals(history(*events)["events"])
        self.assertEqual(spans, [("node1", 1, 0.0, 5.0), ("node1", 1, 9.0, 9.5)])
        self.assertFalse(campaign_check.was_newest_writable(spans, "node1", 6.0, 8.5))
        self.assertTrue(campaign_check.was_newest_writable(spans, "node1", 6.0, 9.1))

    def test_a_campaign_error_and_a_run_without_failovers_fail(self):
        events = [(0.0, "writable", {"node": "node1", "timeline": 1}),
                  (5.0, "error", {"what": "the campaign stopped: CalledProcessError"})]
        self.assertEqual(checks(campaign_check.check(history(*events))),
                         ["campaign error", "vacuous"])

    def test_leaks_and_crashes_are_violations(self):
        events = failover() + [(100.0, "leak", {"what": "left in apps: .app.yaml.pgfollow-x"}),
                               (50.0, "crashed", {"follower": "sidecar1", "status": -11})]
        self.assertEqual(checks(campaign_check.check(history(*events))), ["crash", "leak"])


class StandInLogTests(unittest.TestCase):
    def test_calls_are_told_apart_by_their_id_not_their_pid(self):
        lines = ['{"call": "a", "args": ["restart", "--", "shop.service"], "begin": 1.0, '
                 '"leader": "node2"}',
                 '{"call": "b", "args": ["restart", "--", "shop.service"], "begin": 2.0, '
                 '"leader": "node3"}',
                 '{"call": "a", "args": ["restart", "--", "shop.service"], "end": 1.5, "ok": true}',
                 '{"call": "b", "args": ["restart", "--", "shop.service"], "killed_parent": 77, '
                 '"at": 2.1}',
                 '{"call": "c", "args": ["show", "shop.service"], "begin": 3.0, "leader": null}']
        self.assertEqual(campaign.parse_restarts(lines), [
            {"begin": 1.0, "leader": "node2", "end": 1.5, "ok": True},
            {"begin": 2.0, "leader": "node3", "end": None, "ok": False}])


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
                    "restart_fault", "kill_mid_restart"):
            self.assertTrue(any(e[key] for e in failovers), key)
        self.assertEqual({e["link"]["kind"] for e in drawn if "link" in e},
                         {"delay", "loss", "cut"})
        self.assertIn("all", {e["link"]["target"] for e in drawn if "link" in e})
        self.assertEqual({e["skew"]["offset"] for e in drawn if "skew" in e}, {"+1h", "-1h"})
        self.assertTrue(any("kill" in e for e in drawn) and any("reload" in e for e in drawn))


if __name__ == "__main__":
    unittest.main()

#!/usr/bin/env python3
"""Reads Package.swift (through `swift package dump-package` on standard input) for scripts/fuzz.

  fuzz-modules.py modules TARGET   the Swift modules TARGET needs, itself last, dependencies first
  fuzz-modules.py flags TARGET     TARGET's Swift settings as swiftc flags, one a line
"""
import json
import sys


def main():
    what, target = sys.argv[1], sys.argv[2]
    targets = {t["name"]: t for t in json.load(sys.stdin)["targets"]}
    if what == "modules":
        print("\n".join(in_build_order(target, targets)))
    elif what == "flags":
        print("\n".join(flags(targets[target])))
    else:
        sys.exit(f"unknown request {what}")


def in_build_order(name, targets, done=None):
    """Swift targets of this package that `name` depends on, each after its dependencies."""
    done = [] if done is None else done
    target = targets.get(name)
    if target is None or target["type"] == "system" or name in done:
        return done
    for dependency in target["dependencies"]:
        if "byName" in dependency:
            in_build_order(dependency["byName"][0], targets, done)
    done.append(name)
    return done


def flags(target):
    result = []
    for setting in target.get("settings", []):
        kind = setting["kind"]
        if "enableUpcomingFeature" in kind:
            result += ["-enable-upcoming-feature", kind["enableUpcomingFeature"]["_0"]]
        elif "enableExperimentalFeature" in kind:
            result += ["-enable-experimental-feature", kind["enableExperimentalFeature"]["_0"]]
        else:
            sys.exit(f"scripts/fuzz does not know the setting {kind}: teach fuzz-modules.py")
    return result


main()

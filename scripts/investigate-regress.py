#!/usr/bin/env python3
"""Before/after guard for analysis changes: `investigate --format json` of every planted
incident of a generated trail and of every session of the real captures, compared between
two builds of the binary on the same stores.

    # once, with any build (the stores are shared by both snapshots):
    scripts/investigate-regress.py prepare  DIR --bin BIN [--events 20000 --seed 1]
    # with the build before the change, and again after it:
    scripts/investigate-regress.py snapshot DIR OUT_BEFORE --bin OLD_BIN
    scripts/investigate-regress.py snapshot DIR OUT_AFTER  --bin NEW_BIN
    scripts/investigate-regress.py compare  OUT_BEFORE OUT_AFTER [--paths 12] [--ignore-order]

`prepare` generates the demo trail (20,000 events, seed 1 by default, as `backtrail demo`)
and ingests it and each realdata source (../shared/realdata, or $BACKTRAIL_REALDATA) into
stores under DIR. `snapshot` runs the binary on every finding of the trail and on every
session (`sessions --format json`: its key, else its ARN) of each realdata store, and
writes one JSON file per subject (a failing run writes its exit code and stderr instead).
`compare` lists the files that differ and, for each, the JSON paths that changed;
`--ignore-order` compares lists of objects as multisets (rows that tie on their sort key
may come out in either order from one run to the next).
Standard library only.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REALDATA_SOURCES = [
    "invictus-ir-aws_dataset",
    "stratus-red-team",
    "awsdocs",
    "panther-analysis",
    "traildiscover",
    "plaso",
    "zmallen-cloudtrail2sightings",
    "elastic-integrations",
]


def realdata_root() -> Path:
    env = os.environ.get("BACKTRAIL_REALDATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "realdata"


def run(bin_path, args, check=True):
    env = dict(os.environ)
    env.pop("BACKTRAIL_STORE", None)
    env.pop("BACKTRAIL_ENGINE", None)
    env["NO_COLOR"] = "1"
    p = subprocess.run([bin_path, *args], capture_output=True, text=True, env=env)
    if check and p.returncode != 0:
        sys.exit(f"{bin_path} {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


def prepare(a):
    d = Path(a.dir)
    trail = d / "trail"
    if not trail.exists():
        run(a.bin, ["synth", "--out", str(trail), "--events", str(a.events), "--seed", str(a.seed)])
    stores = d / "stores"
    stores.mkdir(parents=True, exist_ok=True)
    run(a.bin, ["ingest", "--store", str(stores / "synth"), str(trail / "AWSLogs")])
    root = realdata_root()
    for src in REALDATA_SOURCES:
        if (root / src).exists():
            # Some sources hold malformed files on purpose: a partial ingest is fine.
            run(a.bin, ["ingest", "--store", str(stores / src), str(root / src)], check=False)


def investigate(bin_path, store, subject_args, out_file):
    p = run(bin_path, ["investigate", "--format", "json", "--store", str(store), *subject_args], check=False)
    if p.returncode == 0:
        doc = json.loads(p.stdout)
    else:
        doc = {"exit_code": p.returncode, "stderr": p.stderr.strip()}
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:150]


def snapshot(a):
    d, out = Path(a.dir), Path(a.out)
    stores = d / "stores"
    for finding in sorted((d / "trail" / "findings").glob("*.json")):
        investigate(a.bin, stores / "synth", ["--finding", str(finding)], out / "synth" / finding.name)
    for src in REALDATA_SOURCES:
        store = stores / src
        if not store.exists():
            continue
        p = run(a.bin, ["sessions", "--format", "json", "--store", str(store)], check=False)
        if p.returncode != 0:
            continue
        doc = json.loads(p.stdout)
        rows = doc if isinstance(doc, list) else doc.get("sessions", [])
        subjects = set()
        for r in rows:
            s = r.get("session", r)
            subject = s.get("access_key_id") or s.get("arn")
            if subject:
                subjects.add(subject)
        for subject in sorted(subjects):
            investigate(a.bin, store, [subject], out / src / (safe(subject) + ".json"))


def diff_paths(x, y, path="", out=None):
    out = [] if out is None else out
    if type(x) is not type(y):
        out.append(path or "/")
    elif isinstance(x, dict):
        for k in sorted(set(x) | set(y)):
            if k not in x or k not in y:
                out.append(f"{path}/{k}" + (" (added)" if k not in x else " (removed)"))
            else:
                diff_paths(x[k], y[k], f"{path}/{k}", out)
    elif isinstance(x, list):
        if len(x) != len(y):
            out.append(f"{path} (length {len(x)} -> {len(y)})")
        for i, (u, v) in enumerate(zip(x, y)):
            diff_paths(u, v, f"{path}/{i}", out)
    elif x != y:
        out.append(path or "/")
    return out


def unordered(v):
    if isinstance(v, dict):
        return {k: unordered(x) for k, x in v.items()}
    if isinstance(v, list):
        items = [unordered(x) for x in v]
        if items and all(isinstance(x, dict) for x in items):
            items.sort(key=lambda x: json.dumps(x, sort_keys=True))
        return items
    return v


def compare(a):
    before, after = Path(a.before), Path(a.after)
    names = sorted({p.relative_to(before) for p in before.rglob("*.json")}
                   | {p.relative_to(after) for p in after.rglob("*.json")})
    changed = 0
    for n in names:
        b, f = before / n, after / n
        if not b.exists() or not f.exists():
            print(f"{n}: only in {'after' if not b.exists() else 'before'}")
            changed += 1
            continue
        x, y = json.loads(b.read_text()), json.loads(f.read_text())
        if a.ignore_order:
            x, y = unordered(x), unordered(y)
        if x == y:
            continue
        changed += 1
        paths = diff_paths(x, y)
        print(f"{n}: {len(paths)} paths differ")
        for p in paths[: a.paths]:
            print(f"    {p}")
        if len(paths) > a.paths:
            print(f"    ... {len(paths) - a.paths} more")
    print(f"{len(names)} subjects, {changed} differ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("dir")
    p.add_argument("--bin", required=True)
    p.add_argument("--events", type=int, default=20000)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=prepare)
    p = sub.add_parser("snapshot")
    p.add_argument("dir")
    p.add_argument("out")
    p.add_argument("--bin", required=True)
    p.set_defaults(func=snapshot)
    p = sub.add_parser("compare")
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--paths", type=int, default=12)
    p.add_argument("--ignore-order", action="store_true")
    p.set_defaults(func=compare)
    a = ap.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()

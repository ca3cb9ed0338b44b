#!/usr/bin/env python3
"""Counts a phasegate binary's findings on tests/data/lint/corpus.sql against the cases' expectations.

usage: scripts/lint_corpus_count.py [PHASEGATE_BIN] [--list]

Each case is linted as the corpus test does (a plain .sql file for '-- kind: file', else one plan step) through
the binary's `lint --format json`. Printed: cases, findings, false alarms (findings of a rule the case does not
expect), misses (expected rules with no finding), duplicate findings (same rule, message and position), and the
cases that differ from their expectation (--list). Run it with an older binary for a before/after comparison.
"""
import json
import os
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
args = [a for a in sys.argv[1:] if not a.startswith("--")]
binary = args[0] if args else os.path.join(root, "build", "phasegate")


def read_corpus(path):
    cases = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("-- case: "):
            cases.append({"name": line[9:], "expect": set(), "opts": {}, "sql": ""})
        elif cases and line.startswith("-- ") and not cases[-1]["sql"] and ": " in line:
            key, value = line[3:].split(": ", 1)
            if key == "expect":
                cases[-1]["expect"] = set() if value == "none" else {v.strip() for v in value.split(",") if v.strip()}
            else:
                cases[-1]["opts"][key] = value
        elif cases:
            cases[-1]["sql"] += line + "\n"
    return cases


def lint(case, work):
    opts = case["opts"]
    if opts.get("kind") == "file":
        target = os.path.join(work, "case.sql")
        open(target, "w", encoding="utf-8").write(case["sql"])
        cmd = [binary, "lint", target, "--format", "json"]
    else:
        project = os.path.join(work, "project")
        os.makedirs(os.path.join(project, "plans"), exist_ok=True)
        open(os.path.join(project, "phasegate.toml"), "w").write('[project]\nname = "corpus"\n')
        step = '[[%s.steps]]\nname = "case"\nsql = """\n%s"""\n' % (opts.get("phase", "expand"), case["sql"].replace("\\", "\\\\"))
        if opts.get("down") != "no":
            step += 'down = "SELECT 1"\n'
        if "irreversible" in opts:
            step += "irreversible = true\n"
        if "transaction" in opts:
            step += "transaction = %s\n" % ("true" if opts["transaction"] == "true" else "false")
        plan = os.path.join(project, "plans", "0001-case.toml")
        open(plan, "w", encoding="utf-8").write(step)
        cmd = [binary, "-C", project, "lint", plan, "--format", "json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    try:
        return json.loads(out.stdout)["findings"]
    except (ValueError, KeyError):
        return None  # refused before linting (validate: e.g. transaction = true with CONCURRENTLY)


cases = read_corpus(os.path.join(root, "tests", "data", "lint", "corpus.sql"))
totals = {"findings": 0, "false alarms": 0, "misses": 0, "duplicates": 0, "cases wrong": 0, "not linted": 0}
wrong = []
with tempfile.TemporaryDirectory() as work:
    for case in cases:
        findings = lint(case, work)
        if findings is None:
            totals["not linted"] += 1
            wrong.append("%s: not linted (the CLI refuses the plan before linting)" % case["name"])
            continue
        got = {f["rule"] for f in findings}
        keys = [(f["rule"], f["message"], f.get("line"), f.get("column")) for f in findings]
        totals["findings"] += len(findings)
        totals["false alarms"] += sum(1 for f in findings if f["rule"] not in case["expect"])
        totals["misses"] += len(case["expect"] - got)
        totals["duplicates"] += len(keys) - len(set(keys))
        if got != case["expect"] or len(keys) != len(set(keys)):
            totals["cases wrong"] += 1
            wrong.append("%s: got %s, want %s%s" % (case["name"], ",".join(sorted(got)) or "none",
                                                   ",".join(sorted(case["expect"])) or "none",
                                                   " (duplicates)" if len(keys) != len(set(keys)) else ""))
print("%s: %d cases, %s" % (binary, len(cases), ", ".join("%d %s" % (v, k) for k, v in totals.items())))
if "--list" in sys.argv:
    for w in wrong:
        print("  " + w)

"""Reads the CI examples (examples/ci) for tests/e2e/test_ci_examples.sh: parses every YAML file, pulls out the
shell a job or step runs, a container's command, a unit's ExecStart, and checks reports. Exit 1 with a message
on anything unexpected."""
import json
import shlex
import sys

import yaml


def die(msg):
    print("ci_examples.py: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path) as f:
        docs = list(yaml.safe_load_all(f))
    if not docs or any(d is None for d in docs):
        die(path + ": empty YAML document")
    return docs


def parse_all(paths):
    for p in paths:
        load(p)
        print("parsed " + p)


def github_step(path, job, step_id, out):
    """Writes the step's shell to OUT and prints one line per env name it gets (job and step env) and its if."""
    wf = load(path)[0]
    j = wf["jobs"][job]
    steps = [s for s in j["steps"] if s.get("id") == step_id]
    if len(steps) != 1:
        die("%s: job %s has no single step with id %s" % (path, job, step_id))
    s = steps[0]
    if s.get("shell") != "bash":
        die("%s: step %s must say shell: bash (GitHub runs it as bash --noprofile --norc -eo pipefail)" % (path, step_id))
    if "${{" in s["run"]:
        die("%s: step %s: expressions belong in env:, not in run: (they are pasted into the script unquoted)" % (path, step_id))
    with open(out, "w") as f:
        f.write(s["run"])
    env = dict(wf.get("env", {}), **j.get("env", {}), **s.get("env", {}))
    for k in sorted(env):
        print("env " + k)
    print("if " + str(s.get("if", "")))


def gitlab_job(path, job, out):
    """Writes the job's script as the runner runs it (one bash shell, set -eo pipefail) and prints its
    variables, rules and allow_failure exit codes."""
    ci = load(path)[0]
    j = ci[job]
    with open(out, "w") as f:
        f.write("set -eo pipefail\n" + "\n".join(j["script"]) + "\n")
    for k, v in sorted(dict(ci.get("variables", {}), **j.get("variables", {})).items()):
        print("var %s=%s" % (k, v))
    for r in j.get("rules", []):
        print("rule %s -> %s" % (r.get("if", ""), r.get("when", "on_success")))
    af = j.get("allow_failure", {})
    print("allow_failure " + ",".join(str(c) for c in (af.get("exit_codes", []) if isinstance(af, dict) else [])))
    reports = j.get("artifacts", {}).get("reports", {})
    for k, v in sorted(reports.items()):
        print("report %s=%s" % (k, v))


# The keys of .gitlab-ci.yml these examples may use, from GitLab's CI/CD YAML reference: an offline check, as
# no validator of GitLab's published schema runs on this machine (docs/ci.md says why).
GITLAB_TOP = {"stages", "default", "variables", "include", "workflow"}
GITLAB_JOB = {"stage", "image", "rules", "script", "artifacts", "variables", "environment", "resource_group",
              "allow_failure", "before_script", "after_script", "needs", "timeout", "interruptible", "retry"}


def gitlab_keys(path):
    ci = load(path)[0]
    stages = ci.get("stages", [])
    for k, v in ci.items():
        if k in GITLAB_TOP:
            continue
        if not isinstance(v, dict):
            die("%s: %s is neither a known top-level key nor a job" % (path, k))
        unknown = set(v) - GITLAB_JOB
        if unknown:
            die("%s: job %s: unknown keys %s" % (path, k, sorted(unknown)))
        if v.get("stage") not in stages:
            die("%s: job %s: stage %r is not in stages %s" % (path, k, v.get("stage"), stages))
        if not isinstance(v.get("script"), list) or not all(isinstance(x, str) for x in v["script"]):
            die("%s: job %s: script must be a list of strings" % (path, k))
        for r in v.get("rules", []):
            if set(r) - {"if", "when", "changes", "allow_failure", "variables"}:
                die("%s: job %s: unknown rule keys %s" % (path, k, sorted(set(r))))
        af = v.get("allow_failure")
        if isinstance(af, dict) and (set(af) != {"exit_codes"} or not all(isinstance(c, int) for c in af["exit_codes"])):
            die("%s: job %s: allow_failure must be {exit_codes: [ints]}" % (path, k))
        print("job %s ok" % k)


def k8s_command(path):
    """The phasegate container's argv, one shell-quoted line."""
    for d in load(path):
        spec = d["spec"]["jobTemplate"]["spec"] if d["kind"] == "CronJob" else d["spec"]
        pod = spec["template"]["spec"]
        if pod.get("restartPolicy") != "Never":
            die(path + ": podFailurePolicy needs restartPolicy: Never")
        c = [c for c in pod["containers"] if c["name"] == "phasegate"][0]
        print(" ".join(shlex.quote(a) for a in c["command"] + c.get("args", [])))
        for e in c.get("env", []):
            print("env " + e["name"])


def k8s_action(path, code):
    """What the Job's podFailurePolicy does with a pod that exited CODE: the first matching rule, as
    Kubernetes applies them; Count (retry up to backoffLimit) when none matches; Succeeded for 0."""
    code = int(code)
    d = load(path)[0]
    spec = d["spec"]["jobTemplate"]["spec"] if d["kind"] == "CronJob" else d["spec"]
    if code == 0:
        print("Succeeded")
        return
    for rule in spec["podFailurePolicy"]["rules"]:
        oc = rule.get("onExitCodes")
        if not oc:
            continue
        hit = code in oc["values"]
        if (oc["operator"] == "In" and hit) or (oc["operator"] == "NotIn" and not hit):
            print(rule["action"])
            return
    print("Count")


def unit_key(path, section, key):
    """A key of a systemd unit file (the last assignment wins, as systemd reads it)."""
    value, current = None, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                current = line.strip("[]")
            elif current == section and "=" in line:
                k, v = line.split("=", 1)
                if k.strip() == key:
                    value = v.strip()
    if value is None:
        die("%s: no %s= in [%s]" % (path, key, section))
    print(value)


def codequality(path):
    """A GitLab Code Quality report: a JSON array, each entry with the fields GitLab reads."""
    with open(path) as f:
        report = json.load(f)
    if not isinstance(report, list):
        die(path + ": not a JSON array")
    seen = set()
    for i, e in enumerate(report):
        for k, t in (("description", str), ("check_name", str), ("fingerprint", str), ("severity", str), ("location", dict)):
            if not isinstance(e.get(k), t):
                die("%s: entry %d: %s missing or not a %s" % (path, i, k, t.__name__))
        if e["severity"] not in ("info", "minor", "major", "critical", "blocker"):
            die("%s: entry %d: severity %r" % (path, i, e["severity"]))
        loc = e["location"]
        if not isinstance(loc.get("path"), str) or not isinstance(loc.get("lines", {}).get("begin"), int):
            die("%s: entry %d: location.path / location.lines.begin" % (path, i))
        if e["fingerprint"] in seen:
            die("%s: entry %d: fingerprint %s is not unique" % (path, i, e["fingerprint"]))
        seen.add(e["fingerprint"])
        print("%s %s %s:%d %s" % (e["severity"], e["check_name"], loc["path"], loc["lines"]["begin"], e["fingerprint"]))


def github_annotations(path):
    """Reads workflow commands as GitHub's runner does (unescaping %25 %0D %0A, and %3A %2C in properties)."""
    def unescape(v, prop):
        v = v.replace("%0D", "\r").replace("%0A", "\n")
        if prop:
            v = v.replace("%3A", ":").replace("%2C", ",")
        return v.replace("%25", "%")
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.startswith("::"):
                continue
            head, _, message = line[2:].partition("::")
            level, _, props = head.partition(" ")
            fields = {}
            for p in props.split(","):
                k, _, v = p.partition("=")
                fields[k] = unescape(v, True)
            print(json.dumps({"level": level, "props": fields, "message": unescape(message, False)}))


COMMANDS = {"parse-all": parse_all, "github-step": github_step, "gitlab-job": gitlab_job, "gitlab-keys": gitlab_keys,
            "k8s-command": k8s_command, "k8s-action": k8s_action, "unit-key": unit_key,
            "codequality": codequality, "github-annotations": github_annotations}

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "parse-all":
        parse_all(sys.argv[2:])
    else:
        COMMANDS[cmd](*sys.argv[2:])

#!/usr/bin/env bash
# The packaged Grafana dashboard (packaging/grafana/pgvault-dashboard.json) against the
# metrics file a real backup writes: every series it queries is one pgvault writes, every
# family pgvault writes is on it, its variables are the labels the series have, and each
# panel's query is valid PromQL (promtool check rules, with the variables filled in).
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd python3 promtool

top=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
DB=pgv_dash
create_db "$DB"
psql_q "$DB" "CREATE TABLE t AS SELECT generate_series(1, 10) AS a" >/dev/null
run_pgvault backup -d "$SCRATCH/repo" --db "$DB" --metrics-file "$SCRATCH/pgvault.prom"
expect_rc 0 "backup with metrics"

python3 - "$top/packaging/grafana/pgvault-dashboard.json" "$SCRATCH/pgvault.prom" \
    "$SCRATCH/rules.yml" <<'PY' || fail "the dashboard and the metrics disagree (above)"
import json, re, sys
dash = json.load(open(sys.argv[1]))
written = set(re.findall(r"(?m)^# TYPE (\S+) gauge$", open(sys.argv[2]).read()))
problems, exprs = [], []
for p in dash["panels"]:
    assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
    for t in p["targets"]:
        exprs.append(t["expr"])
used = set()
for e in exprs:
    used |= set(re.findall(r"\bpgvault_[a-z_]+", e))
for m in sorted(used - written):
    problems.append(f"the dashboard queries {m}, which pgvault does not write")
for m in sorted(written - used):
    problems.append(f"pgvault writes {m}, which the dashboard does not show")
names = {v["name"] for v in dash["templating"]["list"]}
if names != {"instance", "db"}:
    problems.append(f"variables {sorted(names)}")
for p in problems:
    print("DASHBOARD:", p)
with open(sys.argv[3], "w") as f:
    f.write("groups:\n- name: dashboard\n  rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$instance", ".*").replace("$db", ".*")
        f.write(f"  - record: dashboard:panel{i}\n    expr: {json.dumps(e)}\n")
sys.exit(1 if problems else 0)
PY
out=$(promtool check rules "$SCRATCH/rules.yml" 2>&1) || fail "a panel's query is not valid PromQL: $out"
assert_contains "$out" "SUCCESS" "promtool check rules"
pass

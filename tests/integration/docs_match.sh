#!/usr/bin/env bash
# The documentation says what the program does: every long option that some
# "pgvault COMMAND --help" shows is in README and the manual page, and every option
# README or the manual page names exists; every key the config parser knows (the tables
# of src/config/config.c) is in README's key list, the manual page and the packaged
# pgvault.conf, and every key they list exists. Then the README transcripts keep their
# shape: the same commands on a fresh repository print the column headers and the
# JSON keys that README shows.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd python3 man

top=$(cd "$(dirname "$TESTLIB")/../.." && pwd)
commands=(backup restore list show verify prune pin unpin log query diff import extract check push
    test-restore report)

note "options: --help against README and the manual page"
helps=$SCRATCH/helps.txt
: >"$helps"
run_pgvault --help
printf '%s\n' "$OUT" >>"$helps"
for c in "${commands[@]}"; do
    run_pgvault "$c" --help
    expect_rc 0 "$c --help"
    printf '%s\n' "$OUT" >>"$helps"
done
MANWIDTH=200 man -l "$top/packaging/pgvault.1" 2>/dev/null >"$SCRATCH/man.txt"
python3 - "$helps" "$top/README.md" "$SCRATCH/man.txt" "$top/src/config/config.c" \
    "$top/packaging/pgvault.conf" <<'PY' || fail "the documentation and the program disagree (above)"
import re, sys
helps, readme, man, config_c, conf = (open(p, encoding="utf-8").read() for p in sys.argv[1:])
opt = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")
in_help = set(opt.findall(helps))
short_of = dict((l, s) for s, l in re.findall(r"(?m)^\s+-([A-Za-z]), --([a-z-]+)", helps))
problems = []
# options of other programs that the documentation quotes: pg_dump, pg_dumpall, psql,
# cmake, ctest, lintian, systemctl, gpg, packaging/install-deps.sh, the benchmark, a hook
foreign = {"globals-only", "format", "single-transaction", "load-via-partition-root",
           "fail-on", "output-on-failure", "no-instructions", "edit", "build", "test",
           "quick", "strict", "keep", "no-owner", "no-privileges", "now", "decrypt"}
for name, text in (("README.md", readme), ("the manual page", man)):
    named = set(opt.findall(text))
    for o in sorted(in_help - named):
        # an option with a short form may be documented by it ("-d DIR")
        if o in short_of and re.search(r"(?<![\w-])-" + short_of[o] + r"\b", text):
            continue
        problems.append(f"--{o} is an option of pgvault but {name} does not mention it")
    for o in sorted(named - in_help - foreign):
        problems.append(f"{name} names --{o}, which no pgvault command takes")

keys = set(re.findall(r'\{"([a-z_]+)", offsetof\(struct file_values', config_c))
keys |= set(re.findall(r'strcmp\(key, "([a-z_]+)"\) == 0', config_c))
m = re.search(r"Keys: (.*?)\.\n", readme, re.S)
readme_keys = set(re.findall(r"`([a-z_]+)`", m.group(1))) if m else set()
conf_keys = set(re.findall(r"^#?([a-z_]+) = ", conf, re.M))
for name, listed in (("README's key list", readme_keys), ("the packaged pgvault.conf", conf_keys)):
    for k in sorted(keys - listed):
        problems.append(f"config key {k} is not in {name}")
    for k in sorted(listed - keys):
        problems.append(f"{name} lists {k}, which the config parser does not know")
# the keys of a remote.NAME section, listed as remote.NAME.KEY
rkeys = set(re.findall(r'\{"([a-z_]+)", offsetof\(struct remote_settings', config_c))
rkeys |= set(re.findall(r'strcmp\(k, "([a-z_]+)"\) == 0', config_c))
readme_rkeys = set(re.findall(r"`remote\.NAME\.([a-z_]+)`", m.group(1))) if m else set()
conf_rkeys = set(re.findall(r"^#?remote\.[a-z0-9_-]+\.([a-z_]+) = ", conf, re.M))
for name, listed in (("README's key list", readme_rkeys), ("the packaged pgvault.conf", conf_rkeys)):
    for k in sorted(rkeys - listed):
        problems.append(f"remote key {k} is not in {name}")
    for k in sorted(listed - rkeys):
        problems.append(f"{name} lists remote key {k}, which the config parser does not know")
for k in sorted(keys | rkeys):
    if not re.search(r"(?<![\w])" + re.escape(k) + r"(?![\w])", man):
        problems.append(f"config key {k} is not in the manual page")
for p in problems:
    print("DOCS:", p)
sys.exit(1 if problems else 0)
PY

note "README transcripts keep their shape"
DB=pgv_docs_match
create_db "$DB"
psql_q "$DB" "CREATE TABLE orders (id int PRIMARY KEY); INSERT INTO orders SELECT generate_series(1, 50)" >/dev/null
REPO=$SCRATCH/repo
run_pgvault backup -d "$REPO" --db "$DB" --no-progress
expect_rc 0 "backup"
run_pgvault backup -d "$REPO" --db "$DB" --no-progress --json
expect_rc 0 "backup --json"
backup_json=$OUT
# header NAME ARGS…: the first line of the output that README's transcript of NAME
# shows as a header, compared word by word
readme_header() {
    python3 - "$top/README.md" "$1" "$2" <<'PY'
import re, sys
readme, cmd, first = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2], sys.argv[3]
blocks, cur = [], None
for line in readme.splitlines():
    if line.startswith("```"):
        if cur is None:
            cur = []
        else:
            blocks.append(cur)
            cur = None
    elif cur is not None:
        cur.append(line)
for lines in blocks:
    if lines and lines[0].startswith("$ pgvault " + cmd + " "):
        for l in lines[1:]:
            if l.split()[:1] == [first]:
                print(" ".join(l.split()))
                sys.exit(0)
sys.exit("README has no transcript of pgvault %s with a line starting %s" % (cmd, first))
PY
}
run_pgvault list -d "$REPO"
expect_rc 0 "list"
assert_eq "$(printf '%s\n' "$OUT" | awk '$1 == "ID" {$1=$1; print; exit}')" "$(readme_header list ID)" "list's header"
run_pgvault log -d "$REPO"
expect_rc 0 "log"
assert_eq "$(printf '%s\n' "$OUT" | awk '$1 == "ID" {$1=$1; print; exit}')" "$(readme_header log ID)" "log's header"
id=$(catalog_q "$REPO" "SELECT max(id) FROM backups")
run_pgvault show -d "$REPO" "$id"
expect_rc 0 "show"
assert_eq "$(printf '%s\n' "$OUT" | awk '$1 == "SCHEMA" {$1=$1; print; exit}')" "$(readme_header show SCHEMA)" "show's table header"

note "JSON documents have the keys README's table gives"
run_pgvault pin -d "$REPO" "$id" --json
pin_json=$OUT
run_pgvault verify -d "$REPO" "$id" --json
verify_json=$OUT
run_pgvault restore -d "$REPO" -f --target "${DB}_copy" "$id" --json
register_db "${DB}_copy"
expect_rc 0 "restore --json"
restore_json=$OUT
run_pgvault check -d "$REPO" --json
check_json=$OUT
python3 - "$top/README.md" "$backup_json" "$restore_json" "$verify_json" "$pin_json" "$check_json" <<'PY' ||
import json, re, sys
readme = open(sys.argv[1], encoding="utf-8").read()
docs = dict(zip(["backup", "restore", "verify", "pin", "check"], (json.loads(a) for a in sys.argv[2:])))
rows = dict(re.findall(r"^\| `([a-z]+)`(?:, `[a-z]+`)* \| (.*) \|$", readme, re.M))
bad = 0
for cmd, doc in docs.items():
    if cmd not in rows:
        print("DOCS: README's JSON table has no row for", cmd); bad = 1; continue
    first = doc[0] if isinstance(doc, list) else doc
    want = re.findall(r'"([a-z_]+)"', rows[cmd].split("`:")[0] if cmd == "check" else rows[cmd].split("; with")[0])
    if cmd == "check":
        want = [k for k in want if k in ("state", "code", "max_age_hours", "message", "databases", "leftover_databases")]
    if sorted(first.keys()) != sorted(dict.fromkeys(want)):
        print(f"DOCS: {cmd} --json has keys {sorted(first.keys())}, README says {sorted(set(want))}"); bad = 1
sys.exit(bad)
PY
    fail "README's JSON table and the program disagree (above)"

pass

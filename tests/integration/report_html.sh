#!/usr/bin/env bash
# pgvault report: a catalog of real backups of a test database (row counts that change,
# a pg_dump failure, a pruned, a pinned and a verified backup, hostile names in a table,
# a label, an error and a remote) becomes one self-contained HTML page that headless
# Chromium renders. Asserted: every section is there for the database, every hostile
# string is escaped (no script element in the rendered DOM), nothing refers outside the
# page, the page fits a 390 px phone without horizontal scrolling, and the desktop and
# phone screenshots (kept as artefacts, their paths printed) are not blank, and printed,
# the database's section starts a page. Also: -o -
# writes stdout, the file is replaced atomically with the directory's read bits, the
# empty state, and bad options (exit 2). Skipped (77) only when chromium is missing.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 python3
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[[ -n "$CHROMIUM" ]] || skip "chromium is not installed"

DB=pgv_report_$$
REPO=$SCRATCH/repo
ART=$PGVAULT_TEST_TMP/report_html.artefacts
rm -rf "$ART"
mkdir -p "$ART"
create_db "$DB"

HOSTILE_TABLE="<script>alert('t')</script> \"q\" & ü☃"
HOSTILE_LABEL="<script>alert('label')</script> \"quoted\" & ünïcødé ☃"
HOSTILE_REMOTE="x\"><script>alert('remote')</script>"

note "backups with changing row counts, a failure, a hostile label and table"
psql_script "$DB" -v t="$HOSTILE_TABLE" <<'SQL'
CREATE TABLE orders (id int PRIMARY KEY, note text);
CREATE TABLE customers (id int PRIMARY KEY);
CREATE TABLE :"t" (id int);
INSERT INTO orders SELECT g, 'o' || g FROM generate_series(1, 100) g;
INSERT INTO customers SELECT generate_series(1, 10);
INSERT INTO :"t" VALUES (1);
SQL
backup() {
    run_pgvault backup -d "$REPO" --db "$DB" --no-prune "$@"
    expect_rc 0 "backup $*"
}
grow() {
    psql_q "$DB" "INSERT INTO orders SELECT g, 'o' || g FROM generate_series((SELECT max(id) + 1 FROM orders), (SELECT max(id) + $1 FROM orders)) g" >/dev/null
}
backup --label first                  # 1: pruned below
grow 150
backup --label "$HOSTILE_LABEL"       # 2: pinned below
grow 300
psql_q "$DB" "INSERT INTO customers VALUES (11), (12)" >/dev/null
backup                                # 3: test-restored (restores row below)
# 4: pg_dump fails, with a hostile message of its own
mkdir -p "$SCRATCH/fake"
cat >"$SCRATCH/fake/pg_dump" <<'EOF'
#!/usr/bin/env bash
for a in "$@"; do case "$a" in --version | -V) echo "pg_dump (PostgreSQL) 15.18"; exit 0 ;; esac; done
echo 'pg_dump: error: <img src=x onerror=alert(1)> & "lost" connection' >&2
exit 1
EOF
chmod 0755 "$SCRATCH/fake/pg_dump"
PGVAULT_PG_BINDIR=$SCRATCH/fake run_pgvault backup -d "$REPO" --db "$DB" --no-prune
expect_rc 1 "the backup whose pg_dump fails"
grow 600
psql_script "$DB" -v t="$HOSTILE_TABLE" <<'SQL'
INSERT INTO :"t" VALUES (2), (3);
CREATE TABLE later (id int);
INSERT INTO later SELECT generate_series(1, 40);
SQL
backup                                # 5: verified below
grow 50
backup                                # 6
assert_eq "$(catalog_q "$REPO" "SELECT group_concat(status, ',') FROM (SELECT status FROM backups ORDER BY id)")" \
    complete,complete,complete,failed,complete,complete "statuses before pin, prune, verify"

note "pin 2, prune 1 away, verify 5"
run_pgvault pin -d "$REPO" 2
expect_rc 0 "pin 2"
run_pgvault prune -d "$REPO" --db "$DB" -r 0 -c 4 --min-keep 1
expect_rc 0 "prune"
assert_eq "$(catalog_q "$REPO" "SELECT status || ' ' || prune_rule FROM backups WHERE id = 1")" \
    "pruned beyond count 4" "backup 1 pruned"
run_pgvault verify -d "$REPO" 5
expect_rc 0 "verify 5"

# The copies and the test restore: the features that fill these tables (push, test-restore)
# are being built in parallel, so the rows are inserted directly, as those will write them.
note "copies and a test restore, inserted into the catalog directly"
hr=${HOSTILE_REMOTE//\'/\'\'}
catalog_q "$REPO" "
INSERT INTO copies (backup_id, remote, location, status, copied_at) VALUES
  (3, 'offsite', 'a/3', 'complete', '2026-01-01T00:00:00.000Z'),
  (5, 'offsite', 'a/5', 'complete', '2026-01-01T00:00:00.000Z'),
  (6, 'offsite', 'a/6', 'failed', NULL),
  (6, '$hr', 'b/6', 'complete', '2026-01-01T00:00:00.000Z');
INSERT INTO restores (backup_id, target_db, mode, started_at, finished_at, status)
  SELECT 3, 'pgvault_test_x', 'test', started_at, finished_at, 'complete' FROM backups WHERE id = 3;
UPDATE backups SET restore_tested_at = finished_at WHERE id = 3;"

note "the report"
cat >"$SCRATCH/pgvault.conf" <<'EOF'
retention_days = 0
keep_count = 2
min_keep = 1
EOF
chmod 0755 "$SCRATCH"
OUTDIR=$SCRATCH/www
mkdir -m 0755 "$OUTDIR"
PAGE=$OUTDIR/report.html
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o "$PAGE"
expect_rc 0 "report"
[[ -s "$PAGE" ]] || fail "no report at $PAGE"
assert_eq "$(file_mode "$PAGE")" 644 "mode of the report in a 0755 directory"
assert_eq "$(find "$OUTDIR" -name '.report.html.*' | wc -l)" 0 "temporary files left"
cp "$PAGE" "$ART/report.html"
HTML=$(cat "$PAGE")

note "nothing outside the page, no script, hostile text escaped"
# (the escaped catalog text holds "src=" and "onerror=" as text: attributes are looked
# for inside tags, which escaped text cannot open)
if grep -Eino 'https?:|//|@import|url\(|<(script|link|img|iframe|object|embed|base|meta http)' \
    "$PAGE" | head -5 | grep . ||
    grep -Eino '<[^>]*[[:space:]](src|on[a-z]+|action|formaction)=|<[^>]*href="[^#]' "$PAGE" |
    head -5 | grep .; then
    fail "the report refers outside itself or carries markup from the catalog (above)"
fi
assert_contains "$HTML" "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt; &quot;quoted&quot; &amp; ünïcødé ☃" \
    "the hostile label, escaped"
assert_contains "$HTML" "public.&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt; &quot;q&quot; &amp; ü☃" \
    "the hostile table name, escaped"
assert_contains "$HTML" "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;lost&quot; connection" \
    "pg_dump's hostile error, escaped"
assert_contains "$HTML" "x&quot;&gt;&lt;script&gt;alert(&#39;remote&#39;)&lt;/script&gt;" \
    "the hostile remote name, escaped"

note "each section for the database"
for s in "<h2>Databases</h2>" "href=\"#db-1\">$DB</a>" "id=\"db-1\"" "<h3>Size</h3>" \
    "<h3>Duration</h3>" "<h3>Status timeline</h3>" "Row counts: the biggest movers" \
    "Backups and what keeps them" "@media print" "break-before:page" \
    'name="viewport"' "among newest 2" "pinned" "removed " ": beyond count 4" \
    "next prune removes it: beyond count 2" "→ offsite" "file size (compressed)" \
    "raw size (pg_dump output)" "failed backup" "restore-tested" \
    "<dt>Host</dt>" "<dt>Repository</dt><dd>$(cd "$REPO" && pwd -P)</dd>" "<dt>Generated</dt>" \
    "<dt>Period</dt><dd>the whole history</dd>"; do
    assert_contains "$HTML" "$s" "section or fact [$s]"
done
# the movers: orders grew by 1100 rows from the period's first backup that recorded
# tables (1: pruned since, its counts stay in the catalog) to the last (6)
assert_contains "$HTML" "<td class=\"text\">public.orders</td><td class=\"num\">100</td><td class=\"num\">1200</td><td class=\"num up\">+1100" \
    "orders among the movers"
assert_contains "$HTML" "<td class=\"text\">public.later</td><td class=\"num\"><span class=\"muted\">absent</span></td><td class=\"num\">40</td>" \
    "a table that appeared in the period"
# six backups in the timeline's lanes, one lane per remote
assert_eq "$(grep -o '<rect class="s-' "$PAGE" | wc -l)" $((6 * 5)) \
    "timeline cells: 6 backups x (backup, verified, test restore, 2 remotes)"
assert_contains "$HTML" '<rect class="s-failed"' "the failed backup in the timeline"
assert_contains "$HTML" '<rect class="s-pruned"' "the pruned backup in the timeline"
assert_contains "$HTML" '<rect class="s-verified"' "the verified backup in the timeline"
assert_contains "$HTML" '<rect class="s-tested"' "the test-restored backup in the timeline"
assert_contains "$HTML" '<rect class="s-copied"' "the copies in the timeline"

note "rendered by Chromium"
chrome() {
    local profile
    profile=$(mktemp -d "$SCRATCH/chrome.XXXXXX")
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --host-resolver-rules='MAP * ~NOTFOUND' --hide-scrollbars \
        --user-data-dir="$profile" "$@" 2>"$SCRATCH/chrome.err"
}
chrome --dump-dom "file://$PAGE" >"$SCRATCH/dom.html" ||
    fail "chromium --dump-dom failed: $(tail -5 "$SCRATCH/chrome.err")"
DOM=$(cat "$SCRATCH/dom.html")
assert_contains "$DOM" "Status timeline" "the rendered DOM"
assert_contains "$DOM" "&lt;script&gt;alert('label')&lt;/script&gt;" "the label, text in the DOM"
if grep -qi '<script' "$SCRATCH/dom.html"; then
    fail "the rendered DOM holds a script element"
fi
if grep -qi '<img' "$SCRATCH/dom.html"; then
    fail "the rendered DOM holds an image element"
fi

# The phone: the report in a 390 px wide frame of a test page (the test's own script,
# not the report's) that writes down how wide the report's document became.
cat >"$SCRATCH/phone.html" <<EOF
<!DOCTYPE html><html><body style="margin:0">
<iframe id="f" src="file://$PAGE" style="width:390px;height:800px;border:0"></iframe>
<pre id="out">pending</pre>
<script>
document.getElementById('f').onload = function () {
  var d = this.contentDocument.documentElement;
  document.getElementById('out').textContent = 'scrollWidth=' + d.scrollWidth;
};
</script></body></html>
EOF
chrome --allow-file-access-from-files --virtual-time-budget=5000 --dump-dom \
    "file://$SCRATCH/phone.html" >"$SCRATCH/phone.dom" ||
    fail "chromium failed on the phone page: $(tail -5 "$SCRATCH/chrome.err")"
width=$(grep -o 'scrollWidth=[0-9]*' "$SCRATCH/phone.dom" | cut -d= -f2)
[[ -n "$width" ]] || fail "the phone page did not measure the report: $(cat "$SCRATCH/phone.dom")"
((width <= 390)) || fail "on a 390 px phone the report is $width px wide: it scrolls sideways"

chrome --screenshot="$ART/desktop.png" --window-size=1280,2000 "file://$PAGE" ||
    fail "chromium --screenshot failed: $(tail -5 "$SCRATCH/chrome.err")"
chrome --screenshot="$ART/phone.png" --window-size=390,2400 "file://$PAGE" ||
    fail "chromium --screenshot (phone) failed: $(tail -5 "$SCRATCH/chrome.err")"

# Decoded with the standard library: distinct colours, and how much is not near-white; a
# blank or unstyled page has few colours and almost nothing drawn.
python3 "$(dirname "$TESTLIB")/../tools/pngtool.py" check "$ART/desktop.png" "$ART/phone.png" ||
    fail "a screenshot looks blank (above)"
# Printed: the summary on the first page, the database's section from a new one.
chrome --no-pdf-header-footer --print-to-pdf="$ART/report.pdf" "file://$PAGE" ||
    fail "chromium --print-to-pdf failed: $(tail -5 "$SCRATCH/chrome.err")"
pages=$(grep -a -o '/Count [0-9]*' "$ART/report.pdf" | head -1 | cut -d' ' -f2)
((${pages:-0} >= 2)) || fail "the printed report has ${pages:-no} pages: no page break before the database"
echo "artefacts: $ART/desktop.png $ART/phone.png $ART/report.pdf $ART/report.html"

note "-o - writes the page to stdout"
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o -
expect_rc 0 "report -o -"
assert_contains "$OUT" "<!DOCTYPE html>" "the page on stdout"
assert_contains "$OUT" "Status timeline" "the page on stdout"

note "--json: one object naming the file (and never with -o -)"
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o "$PAGE" --json
expect_rc 0 "report --json"
assert_eq "$OUT" "{\"file\":\"$PAGE\",\"databases\":1,\"size_bytes\":$(stat -c %s "$PAGE")}" \
    "report --json"
run_pgvault report -d "$REPO" -o - --json
expect_rc 2 "report -o - --json"
expect_error_line "report -o - --json"

note "a directory that others may not enter: they are not given read access"
mkdir -m 0750 "$SCRATCH/private"
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o "$SCRATCH/private/r.html"
expect_rc 0 "report into a 0750 directory"
assert_eq "$(file_mode "$SCRATCH/private/r.html")" 640 "mode of the report in a 0750 directory"

note "replaced at once: an old report is replaced; a symlink is refused"
echo old >"$PAGE"
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o "$PAGE"
expect_rc 0 "report over an old one"
assert_contains "$(head -1 "$PAGE")" "<!DOCTYPE html>" "the old report replaced"
ln -s "$SCRATCH/elsewhere" "$OUTDIR/link.html"
run_pgvault report --config "$SCRATCH/pgvault.conf" -d "$REPO" -o "$OUTDIR/link.html"
expect_rc 1 "report onto a symlink"
expect_error_line "report onto a symlink"
assert_contains "$ERR" "is not a regular file; refusing to replace it" "the symlink refused"
[[ ! -e "$SCRATCH/elsewhere" ]] || fail "the symlink's target was written"

note "--since and --db narrow the page"
run_pgvault report -d "$REPO" --since 1d -o -
expect_rc 0 "report --since 1d"
assert_match "$OUT" "<dt>Period</dt><dd>[0-9-]{10} [0-9:]{5} UTC – now</dd>" "the period in the header"
run_pgvault report -d "$REPO" --since 2099-01-01 -o -
expect_rc 0 "report --since the future"
assert_contains "$OUT" "No backups in this period." "a database without backups in the period"
run_pgvault report -d "$REPO" --db pgv_report_no_such_db -o -
expect_rc 0 "report --db of a database without backups"
assert_contains "$OUT" "No backups yet of database “pgv_report_no_such_db”" "empty state for --db"

note "an empty repository: exit 0, an empty-state page"
mkdir "$SCRATCH/empty"
run_pgvault report -d "$SCRATCH/empty" -o "$SCRATCH/empty.html"
expect_rc 0 "report of an empty repository"
assert_contains "$(cat "$SCRATCH/empty.html")" "No backups yet" "the empty state"

note "bad options: exit 2"
for args in "--since yesterday" "--since 2026-02-30" "extra" "--target x" "-o"; do
    # shellcheck disable=SC2086
    run_pgvault report -d "$REPO" $args
    expect_rc 2 "report $args"
    expect_error_line "report $args"
done

pass

#!/usr/bin/env bash
# Hostile input.
#   numbers:  out-of-range and malformed values of every numeric option (-r -c -Z -j
#             --keep-daily --keep-weekly --keep-monthly --min-keep --max-age), on the
#             command line (both "-x V" and "--long=V") and in the config file;
#   flags:    unknown options and commands, flags given values, conflicting flags;
#   each:     exit 2, one "pgvault: " line naming the option, then the
#             'Try "pgvault COMMAND --help"' line (config file: the file and line), and
#             nothing created;
#   names:    hostile database names (SQL, paths, options, conninfo, blanks, unicode, a
#             line break, 63 bytes…) are backed up into correctly encoded file names and
#             restored with --target; 64+ bytes are refused;
#   paths:    hostile repository paths (blanks, "$(…)", globs) are used literally.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
# shellcheck source=SCRIPTDIR/../fault/faultlib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../fault/faultlib.sh"
require_cmd sqlite3 python3

NOT_CREATED=$SCRATCH/must_not_exist

# bad_cli WHAT CMD ARGS…: a usage error for CMD, nothing created.
bad_cli() {
    local what=$1 cmd=$2
    shift 2
    run_pgvault "$@"
    expect_usage_error "$what" "$cmd"
    [[ ! -e "$NOT_CREATED" ]] || fail "$what: created $NOT_CREATED"
}

case_numbers() {
    # option  long name  command  min  max
    local specs=(
        "-r retention-days backup 0 36500"
        "-c count backup 0 1000000"
        "-r retention-days prune 0 36500"
        "-c count prune 0 1000000"
        "-Z compress-level backup 1 9"
        "-j jobs backup 1 256"
        "- keep-daily prune 0 100000"
        "- keep-weekly prune 0 100000"
        "- keep-monthly prune 0 100000"
        "- min-keep prune 0 1000000"
        "- max-age check 1 876000"
    )
    local spec short long cmd min max v n=0
    for spec in "${specs[@]}"; do
        read -r short long cmd min max <<<"$spec"
        local values=("" x 1x x1 1.5 " 5" "5 " +5 0x10 1e3 $'\u0663' -- - -1
            "$((min - 1))" "$((max + 1))" 99999999999999999999 -99999999999999999999
            "$((max + 1))0")
        for v in "${values[@]}"; do
            bad_cli "$cmd --$long=[$v]" "$cmd" "$cmd" -d "$NOT_CREATED" "--$long=$v"
            assert_contains "$(first_err_line)" "--$long" "$cmd --$long=[$v]: the error names the option"
            if [[ $short != - ]]; then
                bad_cli "$cmd $short [$v]" "$cmd" "$cmd" -d "$NOT_CREATED" "$short" "$v"
                assert_contains "$(first_err_line)" "$short" "$cmd $short [$v]: the error names the option"
            fi
            n=$((n + 1))
        done
        # a value missing at the end of the line
        bad_cli "$cmd --$long (no value)" "$cmd" "$cmd" -d "$NOT_CREATED" "--$long"
    done
    note "$n malformed or out-of-range values refused"
}

# The same numbers in the config file: exit 2 naming the file and its line.
case_config_numbers() {
    local specs=(
        "retention_days 0 36500" "keep_count 0 1000000" "compress_level 1 9" "jobs 1 256"
        "min_keep 0 1000000" "keep_daily 0 100000" "keep_weekly 0 100000"
        "keep_monthly 0 100000" "hook_timeout 1 86400"
    )
    local spec key min max v conf=$SCRATCH/bad.conf bad=()
    for spec in "${specs[@]}"; do
        read -r key min max <<<"$spec"
        local values=(x 1x 1.5 +5 0x10 "$((min - 1))" "$((max + 1))" 99999999999999999999
            $'\v5' $'\f5' '"5"x' '""')
        for v in "${values[@]}"; do
            printf '# pgvault\n\n%s = %s\n' "$key" "$v" >"$conf"
            try config_value_refused "$key" "$v" "$conf" 2>/dev/null
            [[ $TRY_RC -eq 0 ]] || bad+=("$key = [$(printf '%q' "$v")]")
        done
    done
    ((${#bad[@]} == 0)) || fail "config values not refused as they should be: ${bad[*]}"
}
config_value_refused() {
    local key=$1 v=$2 conf=$3
    run_pgvault --config "$conf" list -d "$NOT_CREATED"
    expect_rc 2 "config $key = [$v]"
    expect_error_line "config $key = [$v]"
    assert_contains "$(first_err_line)" "$conf" "config $key = [$v]: names the file"
    assert_contains "$(first_err_line)" "line 3" "config $key = [$v]: names the line"
    [[ ! -e "$NOT_CREATED" ]] || fail "config $key = [$v]: created $NOT_CREATED"
}

case_unknown_flags() {
    bad_cli "unknown long option" backup backup -d "$NOT_CREATED" --bogus
    assert_contains "$(first_err_line)" "--bogus" "names the unknown option"
    bad_cli "unknown short option" backup backup -d "$NOT_CREATED" -x
    bad_cli "option of another command" backup backup -d "$NOT_CREATED" --deep
    bad_cli "flag given a value" backup backup -d "$NOT_CREATED" --no-prune=yes
    bad_cli "ambiguous prefix" backup backup --d "$NOT_CREATED"
    bad_cli "empty directory" backup backup -d ""
    bad_cli "empty database" backup backup -d "$NOT_CREATED" --db ""
    bad_cli "option before its command" "" --deep verify -d "$NOT_CREATED" --all
    bad_cli "stray argument" backup backup -d "$NOT_CREATED" extra
    bad_cli "restore without a backup" restore restore -d "$NOT_CREATED" -f
    run_pgvault frobnicate -d "$NOT_CREATED"
    expect_rc 2 "unknown command"
    expect_error_line "unknown command"
    assert_contains "$(first_err_line)" frobnicate "names the unknown command"
    run_pgvault
    expect_rc 2 "no command"
    expect_error_line "no command"
}

case_conflicts() {
    bad_cli "--db with --all" backup backup -d "$NOT_CREATED" --db x --all
    bad_cli "-n with -Z" backup backup -d "$NOT_CREATED" -n -Z 5
    bad_cli "--json with --csv" list list -d "$NOT_CREATED" --json --csv
    bad_cli "--in-place with --target" restore restore -d "$NOT_CREATED" -f --in-place --target x 1
    bad_cli "--in-place with --keep-old" restore restore -d "$NOT_CREATED" -f --in-place --keep-old 1
    bad_cli "-l with -f" restore restore -d "$NOT_CREATED" -l -f
    bad_cli "-l with --target" restore restore -d "$NOT_CREATED" -l --target x
    bad_cli "verify --all with a backup" verify verify -d "$NOT_CREATED" --all 1
    bad_cli "import --scan with a file" import import -d "$NOT_CREATED" --scan x.sql.gz
    bad_cli "--csv for backup" backup backup -d "$NOT_CREATED" --csv
}

# encode NAME: the file-name form of a database name (bytes outside [A-Za-z0-9_.-], and a
# leading '.' or '-', as %XX).
encode() {
    # shellcheck disable=SC2016 # python, not shell
    python3 -c '
import sys
b = sys.argv[1].encode()
out = []
for i, c in enumerate(b):
    ch = chr(c)
    if ch.isascii() and (ch.isalnum() or ch == "_" or (ch in ".-" and i > 0)):
        out.append(ch)
    else:
        out.append("%%%02X" % c)
print("".join(out))' "$1"
}

VICTIM=pgv_fault_victim
HOSTILE_REPO=$SCRATCH/hostile_repo

# one_name NAME TARGET: create NAME with 37 rows, back it up, check the file name, restore
# it with --target TARGET and compare.
one_name() {
    local name=$1 target=$2
    create_db "$name"
    register_db "$target"
    drop_db "$target"
    printf 'CREATE TABLE "we""ird t" (id int, v text);\nINSERT INTO "we""ird t" SELECT g, :%s FROM generate_series(1, 37) g;\n' "'n'" |
        psql_script "$(conninfo "$name")" -v n="$name" >/dev/null
    run_pgvault backup -d "$HOSTILE_REPO" --db "$name"
    expect_rc 0 "backup of database [$name]"
    local file enc
    file=$(catalog_q "$HOSTILE_REPO" "SELECT file_name FROM backups ORDER BY id DESC LIMIT 1")
    enc=$(encode "$name")
    # shellcheck disable=SC2016 # a sed expression
    assert_match "$file" "^$(printf '%s' "$enc" | sed 's/[][\.*^$(){}?+|/]/\\&/g')_[0-9]{8}_[0-9]{6}(_[0-9]+)?\\.sql\\.gz\$" \
        "file name of database [$name]"
    [[ "$file" != */* && "$file" != -* && "$file" != .* && "$file" != *$'\n'* ]] ||
        fail "file name [$file] can form a path, an option or a line break"
    [[ -f "$HOSTILE_REPO/$file" ]] || fail "[$file] is not in the repository"
    local id
    id=$(catalog_q "$HOSTILE_REPO" "SELECT id FROM backups ORDER BY id DESC LIMIT 1")
    assert_eq "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT db_name FROM backups WHERE id = ?", (int(sys.argv[2]),)).fetchone()[0] == sys.argv[3])' \
        "$HOSTILE_REPO/catalog.db" "$id" "$name")" True "db_name of database [$name] in the catalog"
    run_pgvault restore -d "$HOSTILE_REPO" -f --target "$target" "$id"
    expect_rc 0 "restore --target [$target] of database [$name]"
    assert_eq "$(db_fingerprint "$target")" "$(db_fingerprint "$name")" "restored [$target] against [$name]"
    drop_db "$target"
    drop_db "$name"
}

case_hostile_names() {
    create_db "$VICTIM"
    local n63 t63
    n63=$(printf 'n%.0s' {1..60})_63
    t63=$(printf 't%.0s' {1..60})_63
    # a short directory: the names must stay within 63 bytes (longer ones are refused)
    local PWN
    PWN=$(mktemp -d /tmp/pwn.XXXXXX)
    local -a names=(
        "a\"; DROP DATABASE $VICTIM; --"
        "../x"
        "-h x"
        "dbname=postgres"
        "host=/nonexistent dbname=x"
        "my db  with spaces "
        "ünï€ode_数据库"
        $'line1\nline2'
        "\$(touch $PWN/d)"
        ".hidden"
        "'quoted' \\back\\slash %41"
        "$n63"
    )
    local -a targets=(
        "r a\"; DROP DATABASE $VICTIM; --"
        "../r"
        "-h r"
        "dbname=template1"
        "host=/nonexistent dbname=r"
        "r my db  with spaces "
        "r_ünï€ode_数据库"
        $'r\nline2'
        "\$(touch $PWN/t)"
        ".r"
        "r 'quoted' \\back\\slash %41"
        "$t63"
    )
    local i
    for i in "${!names[@]}"; do
        note "database [${names[$i]}]"
        try one_name "${names[$i]}" "${targets[$i]}"
        [[ $TRY_RC -eq 0 ]] || fail "database [${names[$i]}] (above)"
    done
    assert_ne "$(db_oid "$VICTIM")" "" "the victim database"
    [[ ! -e "$PWN/d" && ! -e "$PWN/t" ]] || fail "a database name ran a command"
    rm -rf "$PWN"
    local left
    left=$(find "$SCRATCH" -mindepth 1 -maxdepth 2 \( -name 'x_*' -o -name 'r_*' \) -newer "$HOSTILE_REPO" -print)
    [[ -z "$left" ]] || fail "files outside the repository: $left"
}

# 64 bytes and more: refused before anything is touched, never truncated silently.
case_long_names() {
    local n63 n64 n100
    n63=$(printf 'l%.0s' {1..63})
    n64=${n63}x
    n100=$(printf 'l%.0s' {1..100})
    create_db "$n63"
    register_db "$n63"
    local repo=$SCRATCH/long_repo
    run_pgvault backup -d "$repo" --db "$n63"
    expect_rc 0 "backup of a 63-byte name"
    local id
    id=$(catalog_q "$repo" "SELECT max(id) FROM backups")
    local name bad=()
    for name in "$n64" "$n100"; do
        try long_backup "$repo" "$name"
        [[ $TRY_RC -eq 0 ]] || bad+=("backup --db <${#name} bytes>")
        try long_restore "$repo" "$id" "m$name"
        [[ $TRY_RC -eq 0 ]] || bad+=("restore --target <$((${#name} + 1)) bytes>")
    done
    ((${#bad[@]} == 0)) || fail "not refused: ${bad[*]}"
}
long_backup() {
    local repo=$1 name=$2
    run_pgvault backup -d "$repo" --db "$name"
    note "backup --db <${#name} bytes>: exit $RC: $(first_err_line)"
    assert_eq "$(catalog_q "$repo" "SELECT count(*) FROM backups WHERE length(db_name) > 63")" 0 \
        "catalog rows for a ${#name}-byte database name (the server truncates it to 63: a backup of another database under a name that does not exist)"
    expect_rc 2 "backup --db <${#name} bytes>"
    expect_error_line "backup --db <${#name} bytes>"
}
long_restore() {
    local repo=$1 id=$2 target=$3 short=${3:0:63} made
    register_db "$short"
    run_pgvault restore -d "$repo" -f --target "$target" "$id"
    note "restore --target <${#target} bytes>: exit $RC: $(first_err_line)"
    # only names this restore could have made: other tests create databases meanwhile
    made=$(psql_q postgres "SELECT count(*) FROM pg_database
                            WHERE datname IN ('$short', 'pgvault_tmp_$(pgv_tag "$target")',
                                              'pgvault_tmp_$(pgv_tag "$short")')
                               OR datname LIKE 'pgvault\_old\_$(pgv_tag "$target")%'
                               OR datname LIKE 'pgvault\_old\_$(pgv_tag "$short")%'")
    assert_eq "$made" 0 "databases after restore --target <${#target} bytes> (truncated by the server)"
    expect_rc 2 "restore --target <${#target} bytes>"
    expect_error_line "restore --target <${#target} bytes>"
}

case_hostile_repo() {
    local db=pgv_fault_input_repo
    create_db "$db"
    psql_q "$db" "CREATE TABLE t AS SELECT g FROM generate_series(1, 10) g" >/dev/null
    register_db "${db}_r"
    local dir="$SCRATCH/my repo/\$(touch $SCRATCH/pwned_dir)/*?[ab]{c,d}/~x/"
    run_pgvault backup -d "$dir" --db "$db"
    expect_rc 0 "backup into [$dir]"
    [[ -d "$SCRATCH/my repo/\$(touch $SCRATCH/pwned_dir)/*?[ab]{c,d}/~x" ]] || fail "the literal directory was not created"
    assert_eq "$(stat -c %a "$SCRATCH/my repo/\$(touch $SCRATCH/pwned_dir)/*?[ab]{c,d}/~x")" 700 "mode of the created repository"
    run_pgvault list -d "$dir"
    expect_rc 0 "list of [$dir]"
    assert_contains "$OUT" "${db}_" "list of [$dir]"
    run_pgvault verify -d "$dir" --all
    expect_rc 0 "verify --all of [$dir]"
    BACKUP_DIR=$dir run_pgvault restore -f --target "${db}_r" latest --db "$db"
    expect_rc 0 "restore from BACKUP_DIR=[$dir]"
    assert_eq "$(db_fingerprint "${db}_r")" "$(db_fingerprint "$db")" "restored from [$dir]"
    # a repository called "*" (relative), and one starting with "-"
    (cd "$SCRATCH" && run_pgvault backup -d '*' --db "$db" && expect_rc 0 "backup into [*]" &&
        [[ -f "$SCRATCH/*/catalog.db" ]]) || fail "backup into a directory called *"
    (cd "$SCRATCH" && run_pgvault backup -d '-x' --db "$db" && expect_rc 0 "backup into [-x]" &&
        [[ -f "$SCRATCH/-x/catalog.db" ]]) || fail "backup into a directory called -x"
    [[ ! -e "$SCRATCH/pwned_dir" ]] || fail "the repository path ran a command"
}

run_case "every numeric option: malformed and out-of-range values → exit 2 + hint" case_numbers
run_case "config file: malformed and out-of-range numbers → exit 2 naming file and line" case_config_numbers
run_case "unknown options and commands → exit 2 + hint" case_unknown_flags
run_case "conflicting options → exit 2 + hint" case_conflicts
run_case "hostile database names: encoded file names, restore --target" case_hostile_names
run_case "database names of 64+ bytes (--db, --target): refused, never truncated" case_long_names
run_case "hostile repository paths (blanks, \$(…), globs, -x)" case_hostile_repo
finish_cases

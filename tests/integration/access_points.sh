#!/usr/bin/env bash
# Access points: a large table backed up with access_point_interval = 64kB gets several
# points, whose parts follow one another and add up to its rows; the file is still one
# gzip member (one zstd stream) that the stock tools read back to exactly the dump whose
# raw checksum the catalog holds; extract --table reads from the table's first point:
# with the compressed bytes before that point destroyed, it still writes exactly the
# server's COPY text, and a row count that differs from the catalog's is exit 3. For
# gzip and zstd, at one and two compression threads.
# shellcheck source=SCRIPTDIR/../harness/lib.sh
source "$TESTLIB"
require_cmd sqlite3 gzip zstd xxhsum

DB=pgv_ap_src
REPO=$SCRATCH/repo
create_db "$DB"
psql_script "$DB" >/dev/null <<'SQL'
CREATE TABLE aaa_before (id int, t text);
INSERT INTO aaa_before SELECT g, md5(g::text) FROM generate_series(1, 50000) g;
CREATE TABLE big (id int PRIMARY KEY, t text, n numeric);
INSERT INTO big SELECT g, md5(g::text) || repeat('x', g % 50), g * 1.5
    FROM generate_series(1, 300000) g;
CREATE TABLE empty (i int);
CREATE SCHEMA "Ünï s";
CREATE TABLE "Ünï s"."T q" (v text);
INSERT INTO "Ünï s"."T q" SELECT E'row\t' || g FROM generate_series(1, 1000) g;
SQL
psql_q "$DB" "COPY big TO STDOUT" >"$SCRATCH/want.txt"
printf 'access_point_interval = 64kB\n' >"$SCRATCH/pgvault.conf"

# q SQL: one value from the catalog about backup $id
q() { catalog_q "$REPO" "$1"; }

for comp in gzip zstd; do
    for jobs in 1 2; do
        what="$comp, jobs $jobs"
        run_pgvault backup -d "$REPO" --config "$SCRATCH/pgvault.conf" --db "$DB" \
            --compress "$comp" --jobs "$jobs" --no-prune
        expect_rc 0 "backup ($what)"
        id=$(q "SELECT max(id) FROM backups WHERE status = 'complete'")
        file=$REPO/$(q "SELECT file_name FROM backups WHERE id = $id")
        big="backup_id = $id AND schema_name = 'public' AND table_name = 'big'"

        # several points, parts that follow one another and add up to the table's rows
        n=$(q "SELECT count(*) FROM access_points WHERE $big")
        ((n >= 10)) || fail "$what: only $n access points for public.big"
        assert_eq "$(q "SELECT sum(rows) FROM access_points WHERE $big")" 300000 \
            "$what: rows of the points of public.big"
        assert_eq "$(q "SELECT count(*) FROM access_points a WHERE $big AND rows_before !=
            (SELECT coalesce(sum(rows), 0) FROM access_points b
             WHERE b.backup_id = a.backup_id AND b.table_name = 'big' AND b.seq < a.seq)")" 0 \
            "$what: rows_before of each point is the rows of the points before it"
        assert_eq "$(q "SELECT count(*) FROM access_points a JOIN access_points b
            ON b.backup_id = a.backup_id AND b.seq = a.seq + 1 AND b.table_name = a.table_name
            WHERE a.backup_id = $id AND b.raw_offset != a.raw_offset + a.raw_bytes")" 0 \
            "$what: each part ends where the next one starts"
        assert_eq "$(q "SELECT count(*) FROM access_points WHERE $big AND
            (raw_bytes < 65536 AND seq != (SELECT max(seq) FROM access_points WHERE $big))")" 0 \
            "$what: parts hold at least the interval"
        assert_eq "$(q "SELECT count(*) FROM access_points WHERE backup_id = $id AND table_name = 'empty'")" 0 \
            "$what: an empty table has no point"
        assert_eq "$(q "SELECT statement FROM access_points WHERE backup_id = $id AND table_name = 'T q' AND seq = (SELECT min(seq) FROM access_points WHERE backup_id = $id AND table_name = 'T q')")" \
            'COPY "Ünï s"."T q" ("v") FROM stdin;' "$what: the point's statement"

        # the stock tools read the file as before, to exactly the dump that was taken
        if [[ $comp == gzip ]]; then
            gzip -t "$file" || fail "$what: gzip -t refuses the file"
            gunzip -c "$file" >"$SCRATCH/dump.sql"
        else
            zstd -q -t "$file" || fail "$what: zstd -t refuses the file"
            zstd -q -dc "$file" >"$SCRATCH/dump.sql"
        fi
        raw=$(xxhsum -H2 <"$SCRATCH/dump.sql" | cut -d' ' -f1)
        assert_eq "$raw" "$(q "SELECT raw_checksum FROM backups WHERE id = $id")" \
            "$what: the decompressed file is the dump the backup checksummed"
        # the first point is the first row of the table's data, at its line
        read -r off line <<<"$(q "SELECT raw_offset, line FROM access_points WHERE $big ORDER BY seq LIMIT 1" | tr '|' ' ')"
        tail -c +$((off + 1)) "$SCRATCH/dump.sql" >"$SCRATCH/from-point"
        assert_eq "$(head -n 1 "$SCRATCH/from-point")" "$(head -n 1 "$SCRATCH/want.txt")" \
            "$what: the bytes at the first point"
        assert_eq "$(sed -n "${line}p" "$SCRATCH/dump.sql")" "$(head -n 1 "$SCRATCH/want.txt")" \
            "$what: the line of the first point"

        # extract reads from the point: destroy what comes before it, in the file itself
        first=$(q "SELECT min(comp_offset) FROM access_points WHERE $big")
        ((first > 4096)) || fail "$what: the first point of public.big is at $first"
        cp "$file" "$SCRATCH/orig"
        head -c $((first - 1024)) /dev/urandom |
            dd of="$file" bs=1 seek=512 conv=notrunc status=none
        if [[ $comp == gzip ]]; then
            ! gzip -t "$file" 2>/dev/null || fail "$what: the damage went unnoticed by gzip -t"
        else
            ! zstd -q -t "$file" 2>/dev/null || fail "$what: the damage went unnoticed by zstd -t"
        fi
        "$PGVAULT_BIN" extract -d "$REPO" "$id" --table public.big >"$SCRATCH/got.txt" \
            2>"$SCRATCH/err" || fail "$what: extract failed: $(cat "$SCRATCH/err")"
        cmp -s "$SCRATCH/want.txt" "$SCRATCH/got.txt" ||
            fail "$what: extract of public.big differs from the server's COPY"
        assert_contains "$(cat "$SCRATCH/err")" "300000 rows of table" "$what: extract's count"
        # a count that differs from the catalog's: exit 3, saying so
        sqlite3 "$REPO/catalog.db" "UPDATE backup_tables SET row_count = 300001 WHERE $big"
        run_pgvault extract -d "$REPO" "$id" --table public.big
        expect_rc 3 "$what: extract with a wrong count in the catalog"
        expect_error_line "$what: extract with a wrong count in the catalog"
        assert_contains "$ERR" "300001" "$what: the catalog's count is named"
        sqlite3 "$REPO/catalog.db" "UPDATE backup_tables SET row_count = 300000 WHERE $big"
        cp "$SCRATCH/orig" "$file"
        note "$what: $n points for public.big; the file reads as one stream; extract from the point"
    done
done

# a table in a quoted unicode schema, from its point, as text and CSV
psql_q "$DB" 'COPY "Ünï s"."T q" TO STDOUT WITH (FORMAT csv, HEADER)' >"$SCRATCH/want.csv"
"$PGVAULT_BIN" extract -d "$REPO" "$id" --table '"Ünï s"."T q"' --csv -q >"$SCRATCH/got.csv" ||
    fail "extract --csv of a quoted table failed"
cmp -s "$SCRATCH/want.csv" "$SCRATCH/got.csv" || fail "extract --csv of a quoted table differs"

# age: extract finds the point's 64 KiB chunk and reads on, the chunks before it destroyed
if command -v age-keygen >/dev/null 2>&1; then
    age-keygen -o "$SCRATCH/id.key" 2>/dev/null
    chmod 0600 "$SCRATCH/id.key"
    run_pgvault backup -d "$REPO" --config "$SCRATCH/pgvault.conf" --db "$DB" --no-prune \
        --encrypt-to "$(age-keygen -y "$SCRATCH/id.key")"
    expect_rc 0 "encrypted backup"
    id=$(q "SELECT max(id) FROM backups WHERE status = 'complete'")
    file=$REPO/$(q "SELECT file_name FROM backups WHERE id = $id")
    first=$(q "SELECT min(comp_offset) FROM access_points WHERE backup_id = $id AND table_name = 'big'")
    mac=$(grep -a -b -m 1 -o '^--- .*' "$file")
    mac_line=${mac#*:}
    payload=$((${mac%%:*} + ${#mac_line} + 1 + 16)) # after the header's last line and the nonce
    chunk_at=$((payload + first / 65536 * (65536 + 16)))
    ((chunk_at - payload > 65536)) || fail "the first point of public.big is in age chunk 0"
    head -c $((chunk_at - payload - 200)) /dev/urandom |
        dd of="$file" bs=1 seek=$((payload + 100)) conv=notrunc status=none
    "$PGVAULT_BIN" extract -d "$REPO" "$id" --table public.big --identity "$SCRATCH/id.key" \
        >"$SCRATCH/got.txt" 2>"$SCRATCH/err" || fail "extract (age) failed: $(cat "$SCRATCH/err")"
    cmp -s "$SCRATCH/want.txt" "$SCRATCH/got.txt" || fail "extract (age) of public.big differs"
    ! age -d -i "$SCRATCH/id.key" "$file" >/dev/null 2>&1 || fail "the damage went unnoticed by age"
    note "age: extract from the point's chunk, the chunks before it destroyed"
fi

# a failed backup records no point
n_before=$(q "SELECT count(*) FROM access_points")
PGVAULT_PG_BINDIR=/nonexistent run_pgvault backup -d "$REPO" --config "$SCRATCH/pgvault.conf" \
    --db "$DB" --no-prune
expect_rc 1 "backup without pg_dump"
assert_eq "$(q "SELECT count(*) FROM access_points")" "$n_before" "points of a failed backup"

# an interval under 64 kB is a usage error naming the key
printf 'access_point_interval = 63kB\n' >"$SCRATCH/bad.conf"
run_pgvault backup -d "$REPO" --config "$SCRATCH/bad.conf" --db "$DB"
expect_rc 2 "an interval under 64 kB"
assert_contains "$ERR" "access_point_interval" "the key is named"
pass

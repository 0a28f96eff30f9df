# Turns bench.sh's measurements into the markdown report.
#   awk -F'\t' -v nproc=N -f report.awk facts.txt results.tsv
# facts.txt: key=value lines; results.tsv: one line per measured run (bench.sh measure).
# Every figure is a median over the runs, with min and max of the wall time; ratios are
# ratios of medians. Written for POSIX awk (mawk): no gawk extensions.

function med(list,    v, k, i, j, x, n) {
    # list: values separated by blanks; NA values are skipped
    n = split(list, v, " ")
    k = 0
    for (i = 1; i <= n; i++)
        if (v[i] != "NA" && v[i] != "") w_[++k] = v[i] + 0
    if (k == 0) return "NA"
    for (i = 2; i <= k; i++) {
        x = w_[i]
        for (j = i - 1; j >= 1 && w_[j] > x; j--) w_[j + 1] = w_[j]
        w_[j + 1] = x
    }
    MIN = w_[1]; MAX = w_[k]; CNT = k
    if (k % 2) return w_[(k + 1) / 2]
    return (w_[k / 2] + w_[k / 2 + 1]) / 2
}
function f1(x) { return x == "NA" ? "n/a" : sprintf("%.1f", x) }
function f2(x) { return x == "NA" ? "n/a" : sprintf("%.2f", x) }
function f3(x) { return x == "NA" ? "n/a" : sprintf("%.3f", x) }
function mib(x) { return x == "NA" ? "n/a" : sprintf("%.1f", x / 1048576) }
function mb(x) { return x == "NA" ? "n/a" : sprintf("%.0f", x / 1000000) }
function ratio(a, b) { return (a == "NA" || b == "NA" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
function pct(a, b) { return (a == "NA" || b == "NA" || b == 0) ? "n/a" : sprintf("%+.1f %%", (a / b - 1) * 100) }
function verdict(ok) { return ok ? "**met**" : "**not met**" }
function esc(s) { gsub(/\|/, "\\|", s); return s }

# the median of column col over the runs of (section, ds, variant); sets MIN, MAX
function m(s, d, v, col,    key) {
    key = s SUBSEP d SUBSEP v
    if (!(key in nrun) || na[key]) { MIN = MAX = "NA"; return "NA" }
    return med(vals[key, col])
}
function wallcell(s, d, v,    x) {
    x = m(s, d, v, "wall")
    if (x == "NA") return "n/a"
    return sprintf("%.2f (%.2f–%.2f)", x, MIN, MAX)
}
function rsscell(s, d, v,    a, b) {
    a = m(s, d, v, "hwm_kb"); b = m(s, d, v, "rss_kb")
    if (a == "NA" && b == "NA") return "n/a"
    return sprintf("%s / %s", a == "NA" ? "n/a" : sprintf("%.1f", a / 1024), b == "NA" ? "n/a" : sprintf("%.1f", b / 1024))
}
# the CPU nobody in the measured tree used: other processes on the machine
function foreign(s, d, v,    b, t, sv) {
    b = m(s, d, v, "busy_cpu"); t = m(s, d, v, "tree_cpu"); sv = m(s, d, v, "srv_cpu")
    if (b == "NA" || t == "NA") return "n/a"
    if (sv == "NA") sv = 0
    return sprintf("%.1f", b - t - sv < 0 ? 0 : b - t - sv)
}

FNR == NR {
    # facts
    i = index($0, "=")
    if (i > 0) fact[substr($0, 1, i - 1)] = substr($0, i + 1)
    next
}
FNR == 1 { for (i = 1; i <= NF; i++) colname[i] = $i; next }
{
    key = $1 SUBSEP $2 SUBSEP $3
    if (!(key in nrun)) {
        order[$1, ++norder[$1]] = $2 SUBSEP $3
    }
    nrun[key]++
    for (i = 5; i <= NF; i++) vals[key, colname[i]] = vals[key, colname[i]] " " $i
    if ($15 == 1) na[key] = 1
    if ($14 != 0 && $15 != 1) failed[key]++
}

END {
    split("pgbench realistic", dss, " ")
    print "## Machine and software"
    print ""
    print "| | |"
    print "|---|---|"
    print "| machine | " fact["machine"] " |"
    print "| disk | " fact["disk"] " |"
    print "| kernel | " fact["kernel"] " |"
    print "| date | " fact["date"] " |"
    print "| PostgreSQL | " fact["postgres"] " |"
    print "| pg_dump | " fact["pg_dump"] " |"
    print "| pgvault | " fact["pgvault"] " |"
    print "| zlib / gzip | " fact["zlib"] " / " fact["gzip"] " |"
    print "| runs | " fact["runs"] " alternating repetitions of every measurement (scale " fact["scale"] "); whole run " fact["elapsed"] " s; load average at the end " fact["loadavg_end"] " |"
    print ""
    print "## Datasets"
    print ""
    print "| dataset | database size | plain dump (raw) | gzip -6 | gzip -6 ratio | generated in |"
    print "|---|---:|---:|---:|---:|---:|"
    for (di = 1; di <= 2; di++) {
        d = dss[di]
        printf "| %s | %s MB | %s MB | %s MB | %.2fx | %s s |\n", d, mb(fact["dbsize_" d]), mb(fact["raw_" d]), mb(fact["gzip6_" d]), fact["raw_" d] / fact["gzip6_" d], fact["gen_secs_" d]
    }
    print ""

    # zlib alone: CPU of the deflate calls and the size, from zref
    for (di = 1; di <= 2; di++) {
        d = dss[di]
        for (z = 1; z <= 6; z += 5) {
            lc = ""; ls = ""
            for (k in fact) {
                if (index(k, "zref" z "_" d "_") == 1) {
                    split(fact[k], p, " ")
                    lc = lc " " p[1]; ls = p[2]
                }
            }
            zcpu[d, z] = med(lc)
            zsize[d, z] = ls == "" ? "NA" : ls
        }
    }

    print "## Backup"
    print ""
    print "Wall time in seconds: median (min–max). *vs (a)* and *vs (c)*: wall-time ratio to the"
    print "origin's way and to `pg_dump -Fc` (lower is better). *vs gzip -6*: output size against"
    print "`gzip -6` of the same raw dump. *own CPU*: user+system of the pgvault process alone"
    print "(all its threads, without pg_dump); *tree CPU*: the measured command with all its"
    print "children (pg_dump, gzip…); *server*: the PostgreSQL backend; *others*: CPU that"
    print "processes outside the measurement used on the machine meanwhile. RSS: own / largest"
    print "of the tree (GNU time's %M), MiB."
    print ""
    for (di = 1; di <= 2; di++) {
        d = dss[di]
        raw = fact["raw_" d]; gz = fact["gzip6_" d]
        wa = m("backup", d, "(a) pg_dump > file; gzip", "wall")
        wc = m("backup", d, "(c) pg_dump -Fc", "wall")
        printf "### %s (raw %s MB, gzip -6 %.2fx)\n\n", d, mb(raw), raw / gz
        print "| variant | wall s | vs (a) | vs (c) | raw MB/s | output MB | vs gzip -6 | own CPU s | tree CPU s | server CPU s | others CPU s | peak RSS MiB |"
        print "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (oi = 1; oi <= norder["backup"]; oi++) {
            split(order["backup", oi], kv, SUBSEP)
            if (kv[1] != d) continue
            v = kv[2]
            w = m("backup", d, v, "wall")
            sz = m("backup", d, v, "size")
            own = v ~ /^pgvault/ ? f1(m("backup", d, v, "self_cpu")) : "–"
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", esc(v), wallcell("backup", d, v), ratio(w, wa), ratio(w, wc), (w == "NA" ? "n/a" : sprintf("%.0f", raw / w / 1e6)), mb(sz), (sz == "NA" ? "–" : pct(sz, gz)), own, f1(m("backup", d, v, "tree_cpu")), f1(m("backup", d, v, "srv_cpu")), foreign("backup", d, v), rsscell("backup", d, v)
            W[d, v] = w; SZ[d, v] = sz; OWN[d, v] = m("backup", d, v, "self_cpu")
            m("backup", d, v, "wall"); MINW[d, v] = MIN
        }
        printf "| zlib -6 alone, 1 core (reference) | – | – | – | %s | %s | %s | %s (deflate only) | – | – | – | – |\n", (zcpu[d, 6] == "NA" ? "n/a" : sprintf("%.0f", raw / zcpu[d, 6] / 1e6)), mb(zsize[d, 6]), pct(zsize[d, 6], gz), f1(zcpu[d, 6])
        printf "| zlib -1 alone, 1 core (reference) | – | – | – | %s | %s | %s | %s (deflate only) | – | – | – | – |\n", (zcpu[d, 1] == "NA" ? "n/a" : sprintf("%.0f", raw / zcpu[d, 1] / 1e6)), mb(zsize[d, 1]), pct(zsize[d, 1], gz), f1(zcpu[d, 1])
        print ""
        printf "Best of %s runs (the runs least disturbed by other load on the machine): -Z 6 %.2f s = %s × (a) (%.2f s), %s × (c) (%.2f s).\n\n", fact["runs"], MINW[d, "pgvault -Z 6"], ratio(MINW[d, "pgvault -Z 6"], MINW[d, "(a) pg_dump > file; gzip"]), MINW[d, "(a) pg_dump > file; gzip"], ratio(MINW[d, "pgvault -Z 6"], MINW[d, "(c) pg_dump -Fc"]), MINW[d, "(c) pg_dump -Fc"]
        printf "pgvault's own CPU against zlib alone on the same bytes: -Z 6: %s; -Z 6 -j 1: %s; -Z 1: %s. Output against single-threaded zlib at the same level: -Z 6: %s; -Z 1: %s.\n\n", ratio(OWN[d, "pgvault -Z 6"], zcpu[d, 6]), ratio(OWN[d, "pgvault -Z 6 -j 1"], zcpu[d, 6]), ratio(OWN[d, "pgvault -Z 1"], zcpu[d, 1]), pct(SZ[d, "pgvault -Z 6"], zsize[d, 6]), pct(SZ[d, "pgvault -Z 1"], zsize[d, 1])
        # what the machine allows: all the CPU the pipeline needs, spread over every core
        need = m("backup", d, "pgvault -Z 6", "tree_cpu"); sv = m("backup", d, "pgvault -Z 6", "srv_cpu")
        wd = m("backup", d, "(d) pg_dump > /dev/null", "wall")
        if (need != "NA") {
            if (sv == "NA") sv = 0
            bound = (need + sv) / nproc
            if (wd != "NA" && wd > bound) bound = wd
            LB[d] = bound
            printf "Floor for any streaming `-Z 6` pipeline on this machine: max(pg_dump alone %.2f s, (pgvault + pg_dump + server CPU %.1f s) / %d cores = %.2f s) = %.2f s, i.e. %s × (a).\n\n", wd, need + sv, nproc, (need + sv) / nproc, bound, ratio(bound, wa)
        }
    }

    print "## Verify (warm page cache: every file was read twice before the first run)"
    print ""
    printf "On each dataset's uncompressed (`-n`) backup: %s MB (pgbench) and %s MB (realistic); the `-Z 6` rows on the gzip backup: %s MB and %s MB.\n\n", mb(fact["keepnsize_pgbench"]), mb(fact["keepnsize_realistic"]), mb(fact["keepsize_pgbench"]), mb(fact["keepsize_realistic"])
    print "| dataset | variant | wall s | MB/s of file | speed vs cat | peak RSS MiB |"
    print "|---|---|---|---:|---:|---:|"
    for (oi = 1; oi <= norder["verify"]; oi++) {
        split(order["verify", oi], kv, SUBSEP)
        d = kv[1]; v = kv[2]
        w = m("verify", d, v, "wall"); sz = m("verify", d, v, "size")
        wcat = m("verify", d, v ~ /-Z 6/ ? "cat -Z 6 file > /dev/null" : "cat FILE > /dev/null", "wall")
        printf "| %s | %s | %s | %s | %s | %s |\n", d, esc(v), wallcell("verify", d, v), (w == "NA" || w == 0 ? "n/a" : sprintf("%.0f", sz / w / 1e6)), ratio(wcat, w), rsscell("verify", d, v)
        W[d, v] = w
    }
    print ""

    print "## Restore"
    print ""
    print "pgvault: `restore -f` (safe swap over the dataset's database: checksum, fresh database,"
    print "psql --single-transaction fed by in-process inflate, count(*) of every table against"
    print "the catalog, swap in one transaction, DROP of the replaced database). Baseline: createdb,"
    print "then `gunzip -c FILE | psql -q -X` (its DROP afterwards is not timed)."
    print ""
    print "| dataset | variant | wall s | vs baseline | own CPU s | tree CPU s | server CPU s | others CPU s | peak RSS MiB |"
    print "|---|---|---|---:|---:|---:|---:|---:|---:|"
    for (oi = 1; oi <= norder["restore"]; oi++) {
        split(order["restore", oi], kv, SUBSEP)
        d = kv[1]; v = kv[2]
        w = m("restore", d, v, "wall")
        wb = m("restore", d, "createdb; gunzip -c | psql", "wall")
        own = v ~ /^pgvault/ ? f1(m("restore", d, v, "self_cpu")) : "–"
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", d, esc(v), wallcell("restore", d, v), ratio(w, wb), own, f1(m("restore", d, v, "tree_cpu")), f1(m("restore", d, v, "srv_cpu")), foreign("restore", d, v), rsscell("restore", d, v)
        W[d, v] = w
    }
    for (oi = 1; oi <= norder["extra"]; oi++) {
        split(order["extra", oi], kv, SUBSEP)
        printf "\nCount checks alone on %s (`SELECT count(*)` of every table, once): %s s.", kv[1], f2(m("extra", kv[1], kv[2], "wall"))
    }
    print "\n"
    if ("restore_comment_left" in fact)
        printf "**Warning:** after a successful swap the restored database still carries the comment \"%s\", which makes the next restore of the same database drop it as a leftover of an interrupted restore (the benchmark cleared the comment after each run).\n\n", fact["restore_comment_left"]

    printf "## Catalog of %s backups\n\n", fact["catalog_rows"]
    printf "A copy of a real catalog (%s MB with its per-table rows and events).\n\n", mb(fact["catalog_bytes"])
    print "| command | wall s | CPU s | peak RSS MiB |"
    print "|---|---|---:|---:|"
    catmax = 0; catna = 0; catall = 1
    for (oi = 1; oi <= norder["catalog"]; oi++) {
        split(order["catalog", oi], kv, SUBSEP)
        v = kv[2]
        key = "catalog" SUBSEP kv[1] SUBSEP v
        if (na[key]) {
            printf "| %s | n/a (not implemented in this build) | | |\n", v
            if (v != "list") catna = 1
            continue
        }
        w = m("catalog", kv[1], v, "wall")
        printf "| %s | %s | %s | %s |\n", v, wallcell("catalog", kv[1], v), f2(m("catalog", kv[1], v, "self_cpu")), rsscell("catalog", kv[1], v)
        if (v != "list" && v !~ /^sqlite3/ && w != "NA" && w > catmax) catmax = w
        CW[v] = w
    }
    print ""

    # memory: the largest peak RSS of any pgvault command, itself and with its children
    hw = 0; tr = 0
    for (key in nrun) {
        split(key, kv, SUBSEP)
        if (kv[3] !~ /^pgvault|^list|^prune|^query/ || na[key]) continue
        split(vals[key, "hwm_kb"], p, " "); for (i in p) if (p[i] != "NA" && p[i] + 0 > hw) { hw = p[i] + 0; hwk = kv[1] " " kv[2] " " kv[3] }
        split(vals[key, "rss_kb"], p, " "); for (i in p) if (p[i] != "NA" && p[i] + 0 > tr) { tr = p[i] + 0; trk = kv[1] " " kv[2] " " kv[3] }
    }

    print "## Targets"
    print ""
    print "| target | measured | verdict |"
    print "|---|---|---|"
    for (di = 1; di <= 2; di++) {
        d = dss[di]
        wa = W[d, "(a) pg_dump > file; gzip"]; wz = W[d, "pgvault -Z 6"]; wc = W[d, "(c) pg_dump -Fc"]
        r = (wa == "NA" || wz == "NA") ? "NA" : wz / wa
        ba = ratio(MINW[d, "pgvault -Z 6"], MINW[d, "(a) pg_dump > file; gzip"]); bc = ratio(MINW[d, "pgvault -Z 6"], MINW[d, "(c) pg_dump -Fc"])
        printf "| backup -Z 6 wall ≤ 0.5 × origin (%s) | medians %.2f s vs %.2f s = %s × (best of runs: %s ×; floor of this machine: %s ×) | %s |\n", d, wz, wa, ratio(wz, wa), ba, ratio(LB[d], wa), verdict(r != "NA" && r <= 0.5)
        wzs = W[d, "pgvault --compress zstd"]; wdn = W[d, "(d) pg_dump > /dev/null"]
        wze = ""
        for (k in W) { split(k, kk, SUBSEP); if (kk[1] == d && kk[2] ~ /^\(e\)/) wze = W[k] }
        printf "| backup --compress zstd ≤ 1.3 × pg_dump > /dev/null (%s) | medians %.2f s vs %.2f s = %s × (vs `pg_dump \\| zstd -3 -T%d`: %.2f s, %s ×) | %s |\n", d, wzs, wdn, ratio(wzs, wdn), nproc, wze, ratio(wzs, wze), verdict(wzs != "NA" && wdn != "NA" && wzs <= 1.3 * wdn)
        printf "| backup -Z 6 no slower than pg_dump -Fc (%s) | medians %.2f s vs %.2f s = %s × (best of runs: %s ×) | %s |\n", d, wz, wc, ratio(wz, wc), bc, verdict(wz != "NA" && wc != "NA" && wz <= wc)
        s1 = SZ[d, "pgvault -Z 6"]
        printf "| output within 1 %% of single-threaded zlib -6 (%s) | %s | %s |\n", d, pct(s1, zsize[d, 6]), verdict(s1 != "NA" && zsize[d, 6] != "NA" && s1 <= zsize[d, 6] * 1.01)
        o = OWN[d, "pgvault -Z 6"]
        printf "| own CPU ≤ 1.15 × zlib alone (%s, -Z 6) | %s s vs %s s = %s × | %s |\n", d, f1(o), f1(zcpu[d, 6]), ratio(o, zcpu[d, 6]), verdict(o != "NA" && zcpu[d, 6] != "NA" && o <= 1.15 * zcpu[d, 6])
    }
    for (di = 1; di <= 2; di++) {
        d = dss[di]
        wv = W[d, "pgvault verify"]; wcat = W[d, "cat FILE > /dev/null"]
        printf "| verify ≤ 1.25 × cat FILE > /dev/null (%s, %s MB file) | %s s vs %s s = %s × | %s |\n", d, mb(fact["keepnsize_" d]), f3(wv), f3(wcat), ratio(wv, wcat), verdict(wv != "NA" && wcat != "NA" && wv <= 1.25 * wcat)
    }
    for (di = 1; di <= 2; di++) {
        d = dss[di]
        wr = W[d, "pgvault restore -f (swap)"]; wb = W[d, "createdb; gunzip -c | psql"]
        wpr = ""
        for (k in W) { split(k, kk, SUBSEP); if (kk[1] == d && kk[2] ~ /pg_restore/) wpr = W[k] }
        printf "| restore ≤ 0.8 × gunzip \\| psql (%s) | %s s vs %s s = %s × | %s |\n", d, f2(wr), f2(wb), ratio(wr, wb), verdict(wr != "NA" && wb != "NA" && wr <= 0.8 * wb)
        printf "| restore no slower than pg_restore -j %d of -Fc (%s) | %s s vs %s s = %s × | %s |\n", nproc, d, f2(wr), f2(wpr), ratio(wr, wpr), verdict(wr != "NA" && wpr != "" && wr <= wpr)
    }
    printf "| list --json, prune --dry-run, query on %s backups < 0.2 s | slowest %s s%s | %s |\n", fact["catalog_rows"], f3(catmax), (catna ? " (some commands n/a)" : ""), (catna ? "**incomplete**" : verdict(catmax < 0.2))
    lj = CW["list --json"]; sj = CW["sqlite3 -json (same rows)"]
    printf "| list --json of %s backups ≤ 1.0 × sqlite3 -json of the same rows | %s s vs %s s = %s × | %s |\n", fact["catalog_rows"], f3(lj), f3(sj), ratio(lj, sj), verdict(lj != "" && sj != "" && lj <= sj)
    printf "| peak RSS < 64 MiB | pgvault itself %.1f MiB (%s); with children %.1f MiB (%s) | %s |\n", hw / 1024, hwk, tr / 1024, trk, verdict(hw < 65536)
    print ""
    nf = 0
    for (key in failed) { split(key, kv, SUBSEP); printf "%s%s %s %s (%d run(s) failed)", (nf++ ? "; " : "**Failures:** "), kv[1], kv[2], kv[3], failed[key] }
    if (nf) print "\n"
}

# Sourced by integration scripts (after lib.sh) that need the hostile database:
#
#   source "$(dirname "$TESTLIB")/hostile_db.sh"
#   build_hostile_db DB
#
# build_hostile_db fills the existing, empty database DB with hostile content: every
# common type with extreme values, identifiers that look like SQL or hold quotes, tabs,
# newlines and dots, text that looks like COPY framing or the dump trailer, 50 MB and
# 10 MB values, partitions, inheritance, large objects …
# shellcheck shell=bash

build_hostile_db() {
    psql_script "$1" >/dev/null <<'SQL'
SET client_min_messages = warning;

-- Schemas and types with awkward names.
CREATE SCHEMA "my schema";
CREATE SCHEMA "données";
CREATE SCHEMA "my.schema";
CREATE SCHEMA "Weird ""Schema""";
COMMENT ON SCHEMA "my schema" IS E'a schema\nCOPY x FROM stdin;\n\\.';

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'it''s "complicated"', E'tab\tin label');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE floatrange AS RANGE (subtype = float8);

-- Every common column type, with extreme values.
CREATE TABLE all_types (
    id           int PRIMARY KEY,
    c_int2       int2,
    c_int4       int4,
    c_int8       int8,
    c_numeric    numeric,
    c_num_fix    numeric(1000, 500),
    c_float4     float4,
    c_float8     float8,
    c_bool       bool,
    c_text       text,
    c_varchar    varchar(20),
    c_char       char(5),
    c_bytea      bytea,
    c_json       json,
    c_jsonb      jsonb,
    c_xml        xml,
    c_uuid       uuid,
    c_date       date,
    c_time       time,
    c_timetz     timetz,
    c_ts         timestamp,
    c_tstz       timestamptz,
    c_interval   interval,
    c_inet       inet,
    c_cidr       cidr,
    c_macaddr    macaddr,
    c_macaddr8   macaddr8,
    c_int_arr    int[],
    c_text_2d    text[][],
    c_int4range  int4range,
    c_tstzrange  tstzrange,
    c_numrange   numrange,
    c_floatrange floatrange,
    c_multirange int4multirange,
    c_mood       mood,
    c_pair       pair,
    c_pair_arr   pair[],
    c_posint     posint,
    c_tsvector   tsvector,
    c_tsquery    tsquery,
    c_money      money,
    c_bit        bit(8),
    c_varbit     varbit,
    c_point      point,
    c_polygon    polygon,
    c_box        box,
    c_circle     circle,
    c_line       line,
    c_lseg       lseg,
    c_path       path,
    c_oid        oid,
    c_pg_lsn     pg_lsn,
    c_name       name,
    c_char1      "char",
    c_dropped    int,
    c_generated  text GENERATED ALWAYS AS (c_text || '!') STORED
);
COMMENT ON TABLE all_types IS 'every type; -- PostgreSQL database dump complete';
COMMENT ON COLUMN all_types.c_text IS E'text\n\\.\n';

INSERT INTO all_types VALUES
(1, 32767, 2147483647, 9223372036854775807,
 (repeat('9', 1000) || '.' || repeat('1', 1000))::numeric,
 (repeat('8', 500) || '.' || repeat('7', 500))::numeric,
 3.4028235e38, 1.7976931348623157e308, true,
 E'tab\there', 'varchar', 'ab', '\x00ff00deadbeef00'::bytea,
 '{"b": 1, "a": [1, 2.50, null],  "b": "dup"}', '{"k": "v\u00e9", "n": 1.0e10, "e": {}}',
 '<a x="1">text &amp; <b>more</b></a>', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
 '4713-01-01 BC', '24:00:00', '23:59:59.999999+14:59', '294276-12-31 23:59:59.999999',
 '2024-03-10 02:30:00-05:17', '-178000000 years', '::ffff:1.2.3.4/128', '2001:db8::/32',
 '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05',
 '[0:2]={1,NULL,3}', '{{"a b","c\"d"},{NULL,"NULL"}}', '[1,10)', '[2020-01-01,infinity)',
 '(0.1,1e30]', '[-1.5,2.5)', '{[1,3),[5,7)}', 'it''s "complicated"',
 ROW(1, E'a,b"c\\d)('), ARRAY[ROW(1, 'x')::pair, ROW(NULL, NULL)::pair], 42,
 $$'a':1 'b c':2A 'it''s':3$$, 'fat & (rat | !cat)', 12345.67, B'10101010', B'',
 '(1.5,NaN)', '((0,0),(1,1),(1,0))', '((0,0),(1,1))', '<(0,0),1e300>', '{1,-1,0}',
 '[(0,0),(1,1)]', '[(0,0),(1,1),(2,0)]', 4294967295, 'FFFFFFFF/FFFFFFFF', 'a name', 'x', 1),
(2, -32768, -2147483648, -9223372036854775808, 'NaN', 0, 'NaN', 'Infinity', false,
 E'new\nline', '', '', ''::bytea, '""', 'null', '<?xml version="1.0"?><r/>',
 '00000000-0000-0000-0000-000000000000', 'infinity', '00:00', '00:00+00', 'infinity',
 'infinity', '1 mon -1 day 00:00:00.000001', '192.168.0.1/24', '10.0.0.0/8',
 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', '{}', '{}', 'empty', '(,)', 'empty',
 'empty', '{}', 'sad', ROW(NULL, ''), '{}', 1, '', 'a', -0.01, B'00000000', B'1',
 '(0,0)', '((0,0))', '((0,0),(0,0))', '<(0,0),0>', '{0,1,0}', '[(0,0),(0,0)]',
 '((0,0))', 0, '0/0', '', E'\t', NULL),
(3, 0, 0, 0, 'Infinity', -0.000000001, '-Infinity', '-0', NULL,
 E'back\\slash\\.\n\\.\n\\N', NULL, NULL, '\x00'::bytea, '[1, "two", {"3": [4]}]',
 '[]', 'just text, not a document', 'ffffffff-ffff-ffff-ffff-ffffffffffff',
 '-infinity', '12:34:56.789', '12:34:56-12', '-infinity', '-infinity', '@ 1 hour ago',
 '::', '::/0', '01-02-03-04-05-06', '01:02:03:ff:fe:04:05:06', '{{1,2},{3,4}}',
 '{{{"\\\\"}}}', '(,5]', '(,2021-06-01 12:00:00+02)', '[0,0]', '(,)', '{(,)}',
 E'tab\tin label', NULL, ARRAY[NULL]::pair[], NULL, NULL, NULL, NULL, NULL, NULL,
 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 3);
INSERT INTO all_types (id, c_numeric, c_float4, c_float8, c_text, c_date)
VALUES (4, '-Infinity', 1.4e-45, 4.9e-324, '\N', '5874897-12-31');
INSERT INTO all_types (id, c_numeric, c_num_fix, c_float4, c_float8, c_bool, c_text,
                       c_varchar, c_char, c_bytea, c_json, c_jsonb, c_xml, c_date, c_ts,
                       c_tstz, c_interval)
VALUES (5, 0.1, 0.1, 0.1, 0.1, true, '', 'ünïcödé', 'é', '\x5c2e0a'::bytea,
        '{"COPY x FROM stdin;": "\\."}', '{"tab\t": "ok\n"}', '<x>&lt;\.&gt;</x>',
        '0001-01-01', '0001-01-01 00:00:00', '1999-12-31 23:59:59.5+00', '0');
ALTER TABLE all_types DROP COLUMN c_dropped;

-- Text that looks like COPY framing, escapes and the dump trailer.
CREATE TABLE hostile_text (id int PRIMARY KEY, t text, v varchar(300));
INSERT INTO hostile_text VALUES
 (1, E'tab\there', 'x'), (2, E'new\nline', NULL), (3, E'cr\rreturn', E'\r'),
 (4, E'crlf\r\n', E'\r\n'), (5, E'back\\slash', E'\\'), (6, E'\\.', E'\\.'),
 (7, E'before\n\\.\nafter', NULL), (8, E'\\N', 'NULL'), (9, '', ''), (10, NULL, NULL),
 (11, 'COPY t FROM stdin;', NULL), (12, E'x\nCOPY t FROM stdin;\n1\n\\.\n', NULL),
 (13, '-- PostgreSQL database dump complete', NULL),
 (14, E'\n-- PostgreSQL database dump complete\n--\n', NULL),
 (15, 'NULL', '\N'), (16, E'\\\\N', NULL),
 (17, 'données 日本語 🐘 ' || U&'\202E' || 'rtl' || U&'\FEFF' || U&'\2028' || U&'e\0301',
  'ünïcödé'),
 (18, E'\x01\x02\x1f\x7f' || chr(11) || E'\b\f', NULL), (19, repeat(E'\\', 1000), NULL),
 (20, E'\t', E'\t'), (21, E'\\.\n', NULL), (22, E'trailing backslash\\', NULL),
 (23, ' spaces ', ' '), (24, E'\\unrestrict abc\n\\restrict', NULL),
 (25, E'\\\\.', NULL), (26, E'.\\', NULL);

-- One-column rows that are, as lines of the dump, indistinguishable from framing.
CREATE TABLE lookalike (line text);
INSERT INTO lookalike VALUES
 ('\.'), ('COPY t FROM stdin;'), ('COPY public.x (a) FROM stdin;'),
 ('COPY public.lookalike (line) FROM stdin;'), ('-- PostgreSQL database dump complete'),
 ('--'), (''), (''), ('\unrestrict abc'), ('\restrict abc'),
 ('-- Data for Name: x; Type: TABLE DATA; Schema: public; Owner: -'),
 ('SET client_encoding = ''UTF8'';'), ('\.'), (E'\\.\n\\.'), (NULL), ('END');

-- Identifiers.
CREATE TABLE x (a int);
INSERT INTO x VALUES (1), (2);
COMMENT ON TABLE x IS E'x\nCOPY x FROM stdin;\n1\n2\n3\n\\.\n';
CREATE TABLE "my schema".x (a int DEFAULT 7);
INSERT INTO "my schema".x SELECT generate_series(1, 9);
CREATE TABLE "Weird ""Name""" (id int, "Col ""Q""" text, "tab	col" text);
INSERT INTO "Weird ""Name""" VALUES (1, 'a', 'b'), (2, 'c', NULL), (3, NULL, NULL);
CREATE TABLE "Weird ""Schema"""."Weird ""Name""" (id int);
INSERT INTO "Weird ""Schema"""."Weird ""Name""" SELECT generate_series(1, 4);
CREATE TABLE "tab	le" (a int);
INSERT INTO "tab	le" VALUES (1), (2);
CREATE TABLE "COPY x FROM stdin;" (v text);
INSERT INTO "COPY x FROM stdin;" VALUES ('COPY x FROM stdin;'), ('1'), ('\.'), ('');
CREATE TABLE "t (a) FROM stdin;" (a int);
INSERT INTO "t (a) FROM stdin;" SELECT generate_series(1, 5);
CREATE TABLE "my schema"."données" (d text);
INSERT INTO "my schema"."données" SELECT 'é' || g FROM generate_series(1, 5) g;
CREATE TABLE "données"."été ☀" (x int);
INSERT INTO "données"."été ☀" SELECT generate_series(1, 6);
CREATE TABLE "new
line" (a int);
INSERT INTO "new
line" SELECT generate_series(1, 7);
CREATE TABLE "my.schema"."tbl.name" (a int);
INSERT INTO "my.schema"."tbl.name" SELECT generate_series(1, 8);
CREATE TABLE "UPPER" (a int);
INSERT INTO "UPPER" VALUES (1);
CREATE TABLE "select" ("from" int);
INSERT INTO "select" VALUES (1), (2), (3);
CREATE TABLE "back\slash" (a int);
INSERT INTO "back\slash" VALUES (1), (2), (3);
CREATE TABLE "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll" (a int);
INSERT INTO "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll" VALUES (1);
CREATE TABLE ";DROP TABLE x;--" (a int);
INSERT INTO ";DROP TABLE x;--" VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11);

-- A table without columns that has rows, one whose columns were all dropped, and
-- one with a dropped column in the middle.
CREATE TABLE zerocol ();
INSERT INTO zerocol DEFAULT VALUES;
INSERT INTO zerocol DEFAULT VALUES;
INSERT INTO zerocol DEFAULT VALUES;
CREATE TABLE dropped_all (a int, b int);
INSERT INTO dropped_all VALUES (1, 1), (2, 2);
ALTER TABLE dropped_all DROP COLUMN a, DROP COLUMN b;
CREATE TABLE droppy (a int, b text, c int);
INSERT INTO droppy VALUES (1, 'gone', 10), (2, 'gone', 20);
ALTER TABLE droppy DROP COLUMN b;

-- A function whose body holds COPY framing and the trailer on lines of their own.
CREATE FUNCTION tricky() RETURNS text LANGUAGE sql AS $body$
SELECT $q$
COPY x FROM stdin;
1
2
3
\.
COPY public.x (a) FROM stdin;
4
\.
-- PostgreSQL database dump complete
$q$::text
$body$;
COMMENT ON FUNCTION tricky() IS E'COPY x FROM stdin;\n\\.';
CREATE FUNCTION "my schema"."tricky plpgsql"(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
    -- COPY x FROM stdin;
    RETURN n + 1;
END
$$;

-- Large values: 50 MB of text (with characters COPY must escape), 10 MB of bytea
-- that does not compress and holds zero bytes.
CREATE TABLE big (id int PRIMARY KEY, t text, b bytea);
INSERT INTO big VALUES
 (1, repeat(E'The quick brown fox \\ jumps\tover the lazy dog\n', 1139757), NULL),
 (2, NULL, (SELECT string_agg(sha256(int4send(i)), ''::bytea ORDER BY i)
            FROM generate_series(1, 327680) i) || '\x000000'::bytea),
 (3, 'small', '\x00');

-- Range partitioning with a list-partitioned sub-partition and default partitions.
CREATE TABLE measurements (id int, at date NOT NULL, region text NOT NULL, v numeric)
    PARTITION BY RANGE (at);
CREATE TABLE measurements_2023 PARTITION OF measurements
    FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
CREATE TABLE "my schema"."measurements 2024" PARTITION OF measurements
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY LIST (region);
CREATE TABLE "my schema"."m2024 eu" PARTITION OF "my schema"."measurements 2024"
    FOR VALUES IN ('eu', 'uk');
CREATE TABLE "my schema"."m2024 other" PARTITION OF "my schema"."measurements 2024"
    DEFAULT;
CREATE TABLE measurements_default PARTITION OF measurements DEFAULT;
INSERT INTO measurements
SELECT g, date '2023-06-01' + (g % 800), (ARRAY['eu', 'us', 'uk', 'jp'])[1 + g % 4], g / 3.0
FROM generate_series(1, 3000) g;

-- List partitioning with a range-partitioned sub-partition (one leaf empty).
CREATE TABLE regions (code text NOT NULL, n int) PARTITION BY LIST (code);
CREATE TABLE regions_ab PARTITION OF regions FOR VALUES IN ('a', 'b');
CREATE TABLE "regions ""c""" PARTITION OF regions FOR VALUES IN ('c')
    PARTITION BY RANGE (n);
CREATE TABLE regions_c_low PARTITION OF "regions ""c"""
    FOR VALUES FROM (MINVALUE) TO (100);
CREATE TABLE regions_c_high PARTITION OF "regions ""c"""
    FOR VALUES FROM (100) TO (MAXVALUE);
CREATE TABLE regions_default PARTITION OF regions DEFAULT;
INSERT INTO regions SELECT (ARRAY['a', 'b', 'c', 'z'])[1 + g % 4], g % 50
FROM generate_series(1, 401) g;

-- A partitioned table without partitions.
CREATE TABLE empty_parted (a int) PARTITION BY RANGE (a);

-- Inheritance.
CREATE TABLE parent_inh (a int, note text);
CREATE TABLE child_inh (b text) INHERITS (parent_inh);
INSERT INTO parent_inh VALUES (1, 'p'), (2, 'p');
INSERT INTO child_inh VALUES (3, 'c', 'x'), (4, 'c', 'y'), (5, 'c', 'z');

-- Unlogged, identity, serial, generated, constraints.
CREATE UNLOGGED TABLE unlogged_t (id serial PRIMARY KEY, v text);
INSERT INTO unlogged_t (v) SELECT 'u' || g FROM generate_series(1, 12) g;
CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY, v text CHECK (v <> 'bad'),
                    ref int REFERENCES hostile_text (id));
INSERT INTO ident (v, ref) VALUES ('a', 1), ('b', 2), ('c', NULL);

-- Sequences, views, a materialized view, an empty table.
CREATE SEQUENCE "my schema"."seq ""q""" START 100 INCREMENT 7;
SELECT nextval('"my schema"."seq ""q"""') FROM generate_series(1, 3);
CREATE VIEW v_hostile AS
    SELECT id, t FROM hostile_text WHERE t LIKE 'COPY%' OR t = E'\\.';
COMMENT ON VIEW v_hostile IS E'COPY v FROM stdin;\n\\.';
CREATE MATERIALIZED VIEW mv_counts AS
    SELECT region, count(*) AS n FROM measurements GROUP BY region;
CREATE MATERIALIZED VIEW mv_empty AS SELECT 1 AS one WITH NO DATA;
CREATE TABLE empty_t (a int, b text);

-- Large objects, one of them empty and one holding COPY framing.
SELECT lo_from_bytea(0, '\x00ff00'::bytea);
SELECT lo_from_bytea(0, convert_to(E'COPY x FROM stdin;\n\\.\n', 'UTF8'));
SELECT lo_from_bytea(0, ''::bytea);
SELECT lo_from_bytea(0, (SELECT string_agg(sha256(int4send(i)), ''::bytea)
                         FROM generate_series(1, 5000) i));
SELECT format('COMMENT ON LARGE OBJECT %s IS %L', min(oid), E'lo\n\\.')
FROM pg_largeobject_metadata \gexec
SQL
}

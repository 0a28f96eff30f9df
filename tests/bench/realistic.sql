-- The "realistic" benchmark database, generated server-side (psql -v scale=N -f).
--
-- Unlike pgbench's tables (mostly zeros and blank padding, 30x+ compressible), this holds
-- what real applications store: names and e-mail addresses, free text drawn from a
-- vocabulary, random amounts and timestamps, jsonb documents, hex tokens and bytea
-- blobs. Its plain dump is about 15 MB per unit of scale (750 MB at scale 50) and
-- compresses about 3-4x with gzip -6 (bench.sh prints the measured ratio).
-- setseed makes every run produce the same data.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT setseed(0.42) \gset

DROP TABLE IF EXISTS orders, documents, sessions, customers;

-- ~400 words: English text, product words, and some names.
CREATE TEMP TABLE words AS
SELECT array_agg(w ORDER BY ord) AS words FROM unnest(regexp_split_to_array(
'the of and to in is that for it as with was on be by at this have from or an are not but
had his they you were her she there been one all we can their has more if will would
about so said what up its when into no them than some other could time only new also
any these two may first then do like our over such most after made years many before
must through back where much your way well down should because each just those people
how too little state good very make world still own see men work long get here between
both life being under never day same another know while last might us great old year
off come since against go came right used take three states himself few house use during
without again place american around however home small found thought went say part once
general high upon school every does got united left number course war until always away
something fact though water less public put think almost hand enough far took head yet
government system better set told nothing night end why called did eyes find going look
asked later knew order invoice payment shipment customer account balance refund delivery
warehouse product service contract supplier discount pending shipped delivered cancelled
returned priority standard express quarterly annual report review approved rejected
draft final urgent note reminder schedule meeting client partner project budget forecast
margin revenue expense ledger entry audit tax vat region north south east west central
london paris berlin madrid rome vienna prague warsaw lisbon dublin oslo helsinki athens
alice bob carol dave erin frank grace heidi ivan judy mallory oscar peggy trent victor
walter smith johnson williams brown jones garcia miller davis rodriguez martinez wilson
anderson taylor thomas moore jackson martin lee thompson white harris clark lewis
robinson walker young allen king wright scott green baker adams nelson hill campbell',
'\s+')) WITH ORDINALITY AS t(w, ord) WHERE w <> '';

-- Picking an element of a text[] walks the array from its start, so text is built from
-- short phrases (256 phrases of 1-4 random words) rather than word by word: 5-20x faster.
-- Stored PLAIN: a compressed array would be decompressed at every subscript.
CREATE TEMP TABLE vocab (words text[]);
CREATE TEMP TABLE phrase (phrases text[]);
ALTER TABLE vocab ALTER words SET STORAGE PLAIN;
ALTER TABLE phrase ALTER phrases SET STORAGE PLAIN;
INSERT INTO vocab SELECT words FROM words;
INSERT INTO phrase
SELECT array_agg((SELECT string_agg(w.words[1 + floor(random() * array_length(w.words, 1))::int], ' ')
                  FROM words w, generate_series(0, (random() * 3)::int + p * 0)))
FROM generate_series(1, 256) p;

-- a random word, a random phrase (inlined by the planner: no function call per row)
CREATE FUNCTION pg_temp.w(v text[]) RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT v[1 + floor(random() * array_length(v, 1))::int] $$;

CREATE TABLE customers (
    id          bigint PRIMARY KEY,
    name        text NOT NULL,
    email       text NOT NULL,
    country     char(2) NOT NULL,
    phone       text,
    created_at  timestamptz NOT NULL,
    balance     numeric(14, 2) NOT NULL,
    active      boolean NOT NULL,
    api_token   text NOT NULL
);

CREATE TABLE orders (
    id           bigint PRIMARY KEY,
    customer_id  bigint NOT NULL,
    created_at   timestamptz NOT NULL,
    status       text NOT NULL,
    amount       numeric(12, 2) NOT NULL,
    currency     char(3) NOT NULL,
    quantity     integer NOT NULL,
    note         text,
    attrs        jsonb NOT NULL
);

CREATE TABLE documents (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    kind        text NOT NULL,
    title       text NOT NULL,
    sha         text NOT NULL,
    body        bytea NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE sessions (
    id          bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    token       text NOT NULL,
    ip          inet NOT NULL,
    started_at  timestamptz NOT NULL,
    seconds     numeric(10, 3) NOT NULL,
    user_agent  text NOT NULL
);

INSERT INTO customers
SELECT g,
       initcap(pg_temp.w(v.words)) || ' ' || initcap(pg_temp.w(v.words)),
       pg_temp.w(v.words) || '.' || (random() * 99999)::int || '@' ||
           (ARRAY['example.com', 'mail.example.org', 'corp.example.net', 'shop.example'])[1 + (random() * 3)::int],
       (ARRAY['GB', 'FR', 'DE', 'ES', 'IT', 'AT', 'CZ', 'PL', 'PT', 'IE', 'NO', 'FI', 'GR', 'US'])[1 + (random() * 13)::int],
       '+' || (10 + (random() * 89)::int) || ' ' || (100000000 + (random() * 899999999)::bigint),
       timestamptz '2015-01-01' + random() * interval '3650 days',
       round((random() * 100000 - 20000)::numeric, 2),
       random() < 0.8,
       md5(random()::text)
FROM vocab v, phrase ph, generate_series(1, 4800 * :scale) g;

INSERT INTO orders
SELECT g,
       1 + (random() * (4800 * :scale - 1))::bigint,
       timestamptz '2019-01-01' + random() * interval '2000 days',
       (ARRAY['pending', 'paid', 'shipped', 'delivered', 'cancelled', 'returned'])[1 + (random() * 5)::int],
       round((random() * 2000)::numeric, 2),
       (ARRAY['EUR', 'GBP', 'USD'])[1 + (random() * 2)::int],
       1 + (random() * 20)::int,
       CASE WHEN random() < 0.8 THEN
           left(pg_temp.w(ph.phrases) || ' ' ||
                pg_temp.w(ph.phrases) || ' ' ||
                pg_temp.w(ph.phrases) || ' ' ||
                pg_temp.w(ph.phrases) || ' ' ||
                pg_temp.w(ph.phrases),
                15 + (random() * 80)::int) END,
       jsonb_build_object(
           'sku', 'SKU-' || lpad((random() * 99999)::int::text, 5, '0'),
           'warehouse', (ARRAY['north', 'south', 'east', 'west'])[1 + (random() * 3)::int],
           'gift', random() < 0.1,
           'weight_g', (random() * 5000)::int,
           'tags', jsonb_build_array(pg_temp.w(v.words), pg_temp.w(v.words)),
           'ref', substr(md5(random()::text), 1, 8))
FROM vocab v, phrase ph, generate_series(1, 36000 * :scale) g;

INSERT INTO documents
SELECT g,
       1 + (random() * (4800 * :scale - 1))::bigint,
       (ARRAY['invoice', 'contract', 'receipt', 'photo', 'scan'])[1 + (random() * 4)::int],
       initcap(pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases)),
       md5(random()::text),
       -- random bytes (incompressible) and text (compressible), hex-encoded in the dump
       decode(md5(random()::text), 'hex') ||
           convert_to(left(pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' ||
                           pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' ||
                           pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases) || ' ' || pg_temp.w(ph.phrases),
                           60 + (random() * 200)::int), 'UTF8'),
       timestamptz '2018-01-01' + random() * interval '2500 days'
FROM vocab v, phrase ph, generate_series(1, 7200 * :scale) g;

INSERT INTO sessions
SELECT g,
       1 + (random() * (4800 * :scale - 1))::bigint,
       md5(random()::text),
       ('10.' || (random() * 255)::int || '.' || (random() * 255)::int || '.' || (random() * 255)::int)::inet,
       timestamptz '2023-01-01' + random() * interval '700 days',
       round((random() * 7200)::numeric, 3),
       (ARRAY['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
              'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0',
              'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
              'curl/8.4.0'])[1 + (random() * 3)::int]
FROM vocab v, phrase ph, generate_series(1, 18000 * :scale) g;

VACUUM ANALYZE customers, orders, documents, sessions;

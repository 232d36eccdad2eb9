-- What a COPY of 1,000,000 ledger rows costs on this machine, by what the table carries: no index; the ledger's
-- three indexes; those plus its foreign keys (deferred, as Django creates them; and immediate); each index alone;
-- the idempotency index with the "C" collation. The rows are shaped like points_providertransaction's (a 64-char
-- fingerprint, 200,000 accounts, ids 'ext-N'). It explains the floor under bench/points_ingest.py's ledger-table
-- COPY. Run it in a scratch database (server-side COPY to /tmp needs a superuser):
--
--   psql -h 127.0.0.1 -U postgres -c 'CREATE DATABASE copyfloor'
--   psql -h 127.0.0.1 -U postgres copyfloor -f bench/ledger_copy_floor.sql
--   psql -h 127.0.0.1 -U postgres -c 'DROP DATABASE copyfloor'; rm /tmp/ledger_rows.tsv
\timing on
DROP TABLE IF EXISTS l0, l1, l2, l3, l4, l5, l6, acct, prov CASCADE;
CREATE TABLE prov (id bigint primary key); INSERT INTO prov VALUES (1);
CREATE TABLE acct (id bigint primary key); INSERT INTO acct SELECT generate_series(1, 200000);
CREATE TABLE l0 (id bigserial primary key, provider_id bigint not null, kind varchar(8) not null, external_id varchar(64) not null, fingerprint varchar(64) not null, account_id bigint, amount bigint not null, occurred_at timestamptz, status varchar(16) not null, points int not null, remaining int not null, recorded_at timestamptz not null, month int not null, clawed_back int not null, original_id bigint, CHECK (clawed_back <= points OR points < 0));
CREATE TABLE l1 (LIKE l0 INCLUDING ALL);
CREATE UNIQUE INDEX ON l1 (provider_id, kind, external_id); CREATE INDEX ON l1 (account_id, recorded_at); CREATE INDEX ON l1 (original_id) WHERE original_id IS NOT NULL;
CREATE TABLE l2 (LIKE l1 INCLUDING ALL);
ALTER TABLE l2 ADD FOREIGN KEY (provider_id) REFERENCES prov(id) DEFERRABLE INITIALLY DEFERRED, ADD FOREIGN KEY (account_id) REFERENCES acct(id) DEFERRABLE INITIALLY DEFERRED, ADD FOREIGN KEY (original_id) REFERENCES l2(id) DEFERRABLE INITIALLY DEFERRED;
CREATE TABLE l3 (LIKE l1 INCLUDING ALL);
ALTER TABLE l3 ADD FOREIGN KEY (provider_id) REFERENCES prov(id), ADD FOREIGN KEY (account_id) REFERENCES acct(id), ADD FOREIGN KEY (original_id) REFERENCES l3(id);
COPY (SELECT 1, 'tx', 'ext-' || g, md5(g::text) || md5((g+1)::text), 1 + (g::bigint * 7919) % 200000, 1000 + g % 5000, now(), 'granted', 250, 4750, now(), 202011, 0 FROM generate_series(1, 1000000) g) TO '/tmp/ledger_rows.tsv';
\echo l0 no index no fk
COPY l0 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';
\echo l1 indexes
COPY l1 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';
\echo l2 indexes + deferred fks
BEGIN;
COPY l2 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';
COMMIT;
\echo l3 indexes + immediate fks
COPY l3 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';
SELECT datcollate FROM pg_database WHERE datname = current_database();

CREATE TABLE l4 (LIKE l0 INCLUDING ALL); CREATE UNIQUE INDEX ON l4 (provider_id, kind, external_id);
CREATE TABLE l5 (LIKE l0 INCLUDING ALL); ALTER TABLE l5 ALTER external_id TYPE varchar(64) COLLATE "C", ALTER kind TYPE varchar(8) COLLATE "C"; CREATE UNIQUE INDEX ON l5 (provider_id, kind, external_id);
CREATE TABLE l6 (LIKE l0 INCLUDING ALL); CREATE INDEX ON l6 (account_id, recorded_at);
\echo l4 unique only (default collation)
COPY l4 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';
\echo l5 unique only (C collation)
COPY l5 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';
\echo l6 account index only
COPY l6 (provider_id, kind, external_id, fingerprint, account_id, amount, occurred_at, status, points, remaining, recorded_at, month, clawed_back) FROM '/tmp/ledger_rows.tsv';

// Package wmsql provides watermill-sql (v4) adapters for queue-style message
// tables ("transactional outbox") on two databases:
//
//   - SQLite through modernc.org/sqlite (registered by
//     github.com/uptrace/bun/driver/sqliteshim as "sqliteshim"), and
//   - Postgres through bun's pgdriver (github.com/uptrace/bun/driver/pgdriver),
//     which interpolates query arguments on the client side.
//
// Every topic T is stored in its own table watermill_T. Topics must match
// ^[a-z0-9_]+$ (and be short enough for a Postgres identifier). There are no
// consumer groups: a row is consumed once, then marked acked (or deleted with
// DeleteOnAck). The design assumes exactly one forwarder consumes each topic;
// on Postgres several forwarders may run concurrently (FOR UPDATE SKIP LOCKED),
// on SQLite a second concurrent subscriber of the same topic causes duplicate
// deliveries (never losses).
//
// Tables are expected to come from migrations (see SQLiteDDL / PostgresDDL);
// publishers and subscribers created here never run DDL on their own.
// InitSchema exists for tests.
package wmsql

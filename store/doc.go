// Package store keeps runs in a database, so that results last beyond the
// folder a run writes: the runs (scenario, simulated date, profile
// versions, software version, the machine's health, status), their
// measurements (OONI's JSON, and a row of verdicts and facts per
// measurement), observations (one row per measurement × endpoint, after OONI
// pipeline v5's obs_web table), the borders' decisions (the ground truth:
// border, rule, action, evidence, the rule's source and year, the policy
// log index when there is one) and the scoring (measured and true verdict,
// and which decisions scoring joined to each measurement). It also holds
// the reads an explorer needs (runs, filtered pages of measurements, one
// measurement with everything behind it, heatmap and timeline aggregates,
// the comparison of two runs), so that an HTTP API is a thin layer over it.
//
// It does not measure, score or render: the lab calls a Writer as a run
// proceeds (Begin, then Measurement and Decision as they come, Result once
// scored, Close with the final status). The Writer buffers rows and writes
// them in batches from one goroutine; memory stays at about three batches
// whatever the size of the run.
//
// # Databases
//
// Open takes a DSN: a file path for an embedded SQLite database (the
// default: modernc.org/sqlite is pure Go, nothing to install), a
// postgres:// URL for a shared PostgreSQL (through pgx), or a clickhouse://
// URL for ClickHouse's native protocol (clickhouse-go v2). Tested against
// SQLite 3 (the driver's), PostgreSQL 15 (Debian's) and ClickHouse 18.16
// (Debian's, from 2018); newer ClickHouse servers speak the same protocol,
// and the store uses none of their newer features: ClickHouse 18 has no
// boolean type (UInt8 instead), no LowCardinality without an experimental
// setting, no DateTime64 (times are Int64 nanoseconds everywhere), and joins
// unreliably, so no read joins tables in SQL.
//
// Times are stored as Int64 nanoseconds since 1970 (UTC) in every dialect,
// addresses as text. Text sorts bytewise in every dialect (PostgreSQL
// columns are COLLATE "C").
//
// # Keys and shards
//
// A run's ID is given by the caller (NewRunID makes one), so that the N
// processes of `splinter run --shard I/N` write into one run. A measurement
// is keyed by (run, vantage, input): shards write disjoint keys, and a key
// written again (a retried shard) replaces the earlier measurement and its
// observations. Each process records its own part (run_parts: shard,
// status, counts, health); a run is complete when the latest part of every
// shard is. Decisions are keyed by (run, writer, sequence) and carry a
// digest of their content, by which scores name the decisions joined to
// them. On PostgreSQL and SQLite keys are unique and replacement is an
// upsert; on ClickHouse tables are ReplacingMergeTrees read with FINAL.
//
// # Schema versions
//
// The schema is data (schema.go): tables of abstract column types that each
// dialect renders, built by a list of versioned migrations recorded in
// schema_migrations. Open applies the missing ones (PostgreSQL under an
// advisory lock, SQLite in immediate transactions, ClickHouse idempotently)
// and refuses a database newer than the program.
//
// The SQL is written here rather than with a query builder or an ORM: the
// three dialects differ in a handful of places (placeholders, upserts,
// FINAL, types), which dialect.go holds, and a builder would hide the
// ClickHouse 18 limits the queries are written around.
package store

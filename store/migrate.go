package store

import (
	"context"
	"database/sql"
	"fmt"
)

// execer is what a migration runs on: a connection or a transaction.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// migrate applies the migrations up to version target. Several processes
// may open one database at once (the shards of a run): PostgreSQL
// serializes them with an advisory lock, SQLite with its write lock (each
// migration is one immediate transaction), and on ClickHouse every step is
// idempotent.
func (s *Store) migrate(ctx context.Context, target int) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer conn.Close()
	if s.d.name == "postgres" {
		// The key is arbitrary and fixed: "splinter" in ASCII.
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(7310593858020254322)"); err != nil {
			return fmt.Errorf("store: migrate: lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock(7310593858020254322)")
	}
	for _, q := range s.d.createTable(&migrationsTable) {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	cur, err := s.versionOn(ctx, conn)
	if err != nil {
		return err
	}
	if cur > SchemaVersion {
		return fmt.Errorf("store: the database's schema is version %d, newer than this program's %d", cur, SchemaVersion)
	}
	for _, m := range migrations {
		if m.version <= cur || m.version > target {
			continue
		}
		if err := s.apply(ctx, conn, m); err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func (s *Store) versionOn(ctx context.Context, e execer) (int, error) {
	var v sql.NullInt64
	if err := e.QueryRowContext(ctx, "SELECT max(version) FROM "+s.d.from(migrationsTable.name)).Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

func (s *Store) apply(ctx context.Context, conn *sql.Conn, m migration) error {
	if s.d.replacing {
		return s.steps(ctx, conn, m)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Another process may have applied it while this one waited.
	if cur, err := s.versionOn(ctx, tx); err != nil {
		return err
	} else if cur >= m.version {
		return nil
	}
	if err := s.steps(ctx, tx, m); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) steps(ctx context.Context, e execer, m migration) error {
	for _, st := range m.steps {
		var qs []string
		switch {
		case st.create != nil:
			qs = s.d.createTable(st.create)
		case st.index != nil:
			if !s.d.replacing {
				qs = []string{s.d.createIndex(st.add, st.index)}
			}
		case st.add != "":
			ok, err := s.hasColumn(ctx, e, st.add, st.col.name)
			if err != nil {
				return err
			}
			if !ok {
				qs = []string{s.d.addColumn(st.add, st.col)}
			}
		}
		for _, q := range qs {
			if _, err := e.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	row := values{"version": int64(m.version), "name": m.name, "applied_ns": s.now().UnixNano()}
	if s.d.replacing {
		// ClickHouse 18 takes inserted rows as a data block only.
		return s.write(ctx, []op{{t: &migrationsTable, mode: insertKeep, rows: []values{row}}}, nil)
	}
	q := s.d.insert(&migrationsTable, []string{"version", "name", "applied_ns"}, insertKeep)
	_, err := e.ExecContext(ctx, q, row["version"], row["name"], row["applied_ns"])
	return err
}

func (s *Store) hasColumn(ctx context.Context, e execer, tbl, col string) (bool, error) {
	var q string
	switch s.d.name {
	case "sqlite":
		q = "SELECT count(*) FROM pragma_table_info(?) WHERE name = ?"
	case "postgres":
		q = "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2"
	case "clickhouse":
		q = "SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = ? AND name = ?"
	}
	var n int64
	if err := e.QueryRowContext(ctx, q, tbl, col).Scan(&n); err != nil {
		return false, fmt.Errorf("columns of %s: %w", tbl, err)
	}
	return n > 0, nil
}

// tables is the schema at the newest version: every table with every
// column the migrations gave it, by name.
var tables = func() map[string]*table {
	out := map[string]*table{}
	for _, m := range migrations {
		for _, st := range m.steps {
			switch {
			case st.create != nil:
				t := *st.create
				t.cols = append([]column(nil), t.cols...)
				out[t.name] = &t
			case st.add != "" && st.index == nil:
				out[st.add].cols = append(out[st.add].cols, st.col)
			}
		}
	}
	return out
}()

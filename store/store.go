package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "modernc.org/sqlite"             // registers "sqlite"
)

// ErrNotFound is returned when a run or measurement does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrDSN is returned (wrapped) by Open for a DSN it cannot read: an
// unknown scheme, an empty path, a malformed URL.
var ErrDSN = errors.New("store: bad DSN")

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	db *sql.DB
	d  *dialect
	// now stamps rows (parts' updated time, migrations); injected in tests.
	now func() time.Time
}

// Options tune Open. The zero value is usable.
type Options struct {
	// Now is the clock that stamps bookkeeping rows; nil means time.Now.
	Now func() time.Time
}

// Open opens (creating it if need be) the store named by dsn and brings its
// schema up to SchemaVersion:
//
//   - a file path, "file:PATH" or "sqlite:PATH": an embedded SQLite file
//     (WAL journal, so readers never wait for the writer);
//   - "postgres://..." or "postgresql://...": PostgreSQL through pgx (a unix
//     socket: "postgres:///DB?host=/run/postgresql");
//   - "clickhouse://HOST:PORT/DB": ClickHouse's native protocol.
func Open(ctx context.Context, dsn string, opts ...Options) (*Store, error) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	db, d, err := openDB(dsn)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, d: d, now: o.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", redact(dsn), err)
	}
	if err := s.migrate(ctx, SchemaVersion); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func openDB(dsn string) (*sql.DB, *dialect, error) {
	scheme, _, hasScheme := strings.Cut(dsn, "://")
	if !hasScheme {
		scheme = ""
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("store: %s: %w: %w", redact(dsn), ErrDSN, err)
		}
		return db, postgresDialect, nil
	case "clickhouse":
		opt, err := clickhouse.ParseDSN(dsn)
		if err != nil {
			return nil, nil, fmt.Errorf("store: %s: %w: %w", redact(dsn), ErrDSN, err)
		}
		return clickhouse.OpenDB(opt), clickhouseDialect, nil
	case "", "sqlite", "file":
		path := dsn
		for _, p := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
			if strings.HasPrefix(path, p) {
				path = strings.TrimPrefix(path, p)
				break
			}
		}
		if path == "" {
			return nil, nil, fmt.Errorf("%w: empty SQLite path", ErrDSN)
		}
		q := url.Values{}
		q.Add("_pragma", "busy_timeout(30000)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// Reads of a large run: map the file rather than read it page by
		// page, and keep more of it cached.
		q.Add("_pragma", "mmap_size(1073741824)")
		q.Add("_pragma", "cache_size(-65536)")
		// Transactions take the write lock when they begin, so two
		// processes writing one file wait for each other instead of
		// failing on a lock upgrade.
		q.Set("_txlock", "immediate")
		db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
		if err != nil {
			return nil, nil, fmt.Errorf("store: %s: %w", path, err)
		}
		return db, sqliteDialect, nil
	}
	return nil, nil, fmt.Errorf("%w: %s: unsupported scheme %q (want a file path, postgres:// or clickhouse://)", ErrDSN, redact(dsn), scheme)
}

// redact removes a password from a DSN for messages.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Dialect names the database behind the store: "sqlite", "postgres" or
// "clickhouse".
func (s *Store) Dialect() string { return s.d.name }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.d.rebind(q), s.args(args)...)
}

func (s *Store) args(args []any) []any {
	for i, a := range args {
		args[i] = s.d.arg(a)
	}
	return args
}

// Version is the schema version the database is at.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT max(version) FROM "+s.d.from(migrationsTable.name)).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return int(v.Int64), nil
}

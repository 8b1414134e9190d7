package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/splinter-lab/splinter/store"
)

// dbEnv names a store to use when --db is not given.
const dbEnv = "SPLINTER_DB"

// dbFile is the default store's file, in a run's output directory: the
// results stay beside the files of the run that made them, one folder to
// keep or delete, and runs into the same --out accumulate there (what
// `splinter serve` and `score` read by default).
const dbFile = "splinter.db"

func dbFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("db", "", usage)
}

// storeDSN is the store a command uses: --db, else $SPLINTER_DB, else
// DIR/splinter.db; "" for off.
func storeDSN(flagValue, dir string) string {
	dsn := flagValue
	if dsn == "" {
		dsn = os.Getenv(dbEnv)
	}
	if dsn == "" {
		dsn = filepath.Join(dir, dbFile)
	}
	if dsn == "off" {
		return ""
	}
	return dsn
}

// isFileDSN reports whether dsn names a SQLite file, and which.
func isFileDSN(dsn string) (string, bool) {
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && scheme != "file" && scheme != "sqlite" {
		return "", false
	}
	path := dsn
	for _, p := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if rest, ok := strings.CutPrefix(path, p); ok {
			path = rest
			break
		}
	}
	return path, true
}

// openStore opens the store dsn names, creating a SQLite file's folder
// (create) or refusing a SQLite file that does not exist (!create).
func openStore(ctx context.Context, dsn string, create bool) (*store.Store, error) {
	if path, ok := isFileDSN(dsn); ok {
		if create {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, badInput("--db: %v", err)
			}
		} else if _, err := os.Stat(path); err != nil {
			return nil, badInput("no store at %s (a run writes one: splinter run; or give --db)", path)
		}
	}
	st, err := store.Open(ctx, dsn)
	if err != nil {
		if errors.Is(err, store.ErrDSN) {
			return nil, inputError{err}
		}
		return nil, err
	}
	return st, nil
}

// redactDSN hides a DSN's password.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// runIDs lists a store's latest runs, for a message.
func runIDs(ctx context.Context, st *store.Store) string {
	runs, err := st.Runs(ctx, store.RunQuery{Limit: 5})
	if err != nil || len(runs) == 0 {
		return "the store holds no run"
	}
	var ids []string
	for _, r := range runs {
		ids = append(ids, fmt.Sprintf("%s (%s, %s)", r.ID, r.Scenario, r.Status))
	}
	return "latest runs: " + strings.Join(ids, ", ")
}

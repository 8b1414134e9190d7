package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/splinter-lab/splinter/store"
)

func dbFlag(fs *flag.FlagSet, usage string) *string {
	return fs.String("db", "", usage)
}

// storeDSN is the store a command uses: --db, else $SPLINTER_DB, else the
// user's default store (defaultStorePath: what `splinter serve` reads);
// "" for off.
func storeDSN(flagValue string) string {
	dsn := flagValue
	if dsn == "" {
		dsn = defaultStorePath()
	}
	if dsn == "off" {
		return ""
	}
	return dsn
}

// sqlitePath is the file a SQLite DSN names; false for a server's DSN.
func sqlitePath(dsn string) (string, bool) {
	if scheme, _, ok := strings.Cut(dsn, "://"); !isFileDSN(dsn) || ok && scheme != "sqlite" && scheme != "file" {
		return "", false // a server's, or a scheme store.Open refuses
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
	if path, ok := sqlitePath(dsn); ok {
		if create {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return nil, badInput("--db: %v", err)
			}
		} else if fi, err := os.Stat(path); err != nil {
			return nil, badInput("no store at %s (splinter run writes one; or name it with --db)", path)
		} else if !fi.Mode().IsRegular() {
			return nil, badInput("store %s is not a regular file", path)
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

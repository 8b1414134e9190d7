package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/splinter-lab/splinter/explorer"
	"github.com/splinter-lab/splinter/store"
)

func init() {
	register("serve", "serve the results store: a JSON API and a web explorer", runServe)
}

// defaultStorePath is the SQLite store splinter uses when --db is not
// given: $SPLINTER_DB if set, else splinter/splinter.db in the user's data
// folder ($XDG_DATA_HOME, or ~/.local/share).
func defaultStorePath() string {
	if p := os.Getenv("SPLINTER_DB"); p != "" {
		return p
	}
	dir := os.Getenv("XDG_DATA_HOME")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "splinter.db"
		}
		dir = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(dir, "splinter", "splinter.db")
}

func runServe(e *env, args []string) error {
	fs := flags(e, "serve", "[--db DSN] [--addr HOST:PORT]")
	db := fs.String("db", "", "the store: a SQLite file, postgres://... or clickhouse://... (default $SPLINTER_DB, else ~/.local/share/splinter/splinter.db)")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default: the explorer has no authentication)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return badInput("--addr %q: %v", *addr, err)
	}
	dsn := *db
	if dsn == "" {
		dsn = defaultStorePath()
	}
	if isFileDSN(dsn) {
		// Serving must not create an empty store where the user expected
		// one: a missing file is a mistake in --db.
		path := dsn
		for _, p := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
			if rest, ok := strings.CutPrefix(path, p); ok {
				path = rest
				break
			}
		}
		st, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return badInput("no store at %s (splinter run writes one; or name it with --db)", path)
		case err != nil:
			return badInput("store %s: %v", path, err)
		case !st.Mode().IsRegular():
			return badInput("store %s is not a regular file", path)
		}
	}
	ctx := e.ctx
	s, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return badInput("--addr %s: %v", *addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		fmt.Fprintf(e.stderr, "splinter serve: listening on %s, beyond this machine: the explorer has no authentication\n", ln.Addr())
	}
	srv := &http.Server{
		Handler:           explorer.New(s, explorer.Options{Logf: func(f string, a ...any) { fmt.Fprintf(e.stderr, f+"\n", a...) }}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(e.stdout, "serving %s (%s) on http://%s/ (API: http://%s/api/v1/runs); interrupt to stop\n", redactDSN(dsn), s.Dialect(), ln.Addr(), ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
		<-done
		return nil
	}
}

// isFileDSN reports whether dsn names a SQLite file (as store.Open reads
// it).
func isFileDSN(dsn string) bool {
	scheme, _, ok := strings.Cut(dsn, "://")
	if !ok {
		return true
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql", "clickhouse":
		return false
	}
	return true
}

// redactDSN hides a password in a DSN.
func redactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok {
		return dsn
	}
	userinfo, hostpath, ok := strings.Cut(rest, "@")
	if !ok {
		return dsn
	}
	if user, _, hasPw := strings.Cut(userinfo, ":"); hasPw {
		return scheme + "://" + user + ":xxxxx@" + hostpath
	}
	return dsn
}

package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/splinter-lab/splinter/export"
	"github.com/splinter-lab/splinter/store"
)

func init() {
	register("export", "write a stored run's measurements (one row per measurement × endpoint) as Parquet, CSV or JSON lines", runExport)
}

func runExport(e *env, args []string) error {
	names := make([]string, len(export.Formats))
	for i, f := range export.Formats {
		names[i] = string(f)
	}
	fs := flags(e, "export", "--run ID --format "+strings.Join(names, "|")+" [--db DSN] [--out FILE]")
	db := dbFlag(fs, "the store: a SQLite file, postgres://... or clickhouse://... (default: $SPLINTER_DB, else ~/.local/share/splinter/splinter.db)")
	runID := fs.String("run", "", "the run to export")
	format := fs.String("format", "", "parquet, csv or jsonl")
	out := fs.String("out", "", "the file to write (default: standard output)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	f, err := export.ParseFormat(*format)
	if err != nil {
		return inputError{err}
	}
	dsn := storeDSN(*db)
	if dsn == "" {
		return badInput("export reads a store: --db off leaves none")
	}
	st, err := openStore(e.ctx, dsn, false)
	if err != nil {
		return err
	}
	defer st.Close()
	if *runID == "" {
		return badInput("--run ID is required: %s", runIDs(e.ctx, st))
	}
	if _, err := st.Run(e.ctx, *runID); errors.Is(err, store.ErrNotFound) {
		return badInput("no run %q in %s: %s", *runID, redactDSN(dsn), runIDs(e.ctx, st))
	} else if err != nil {
		return err
	}
	if *out == "" {
		bw := bufio.NewWriterSize(e.stdout, 1<<16)
		n, err := export.Write(e.ctx, bw, st, *runID, f)
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "splinter export: %d rows\n", n)
		return nil
	}
	// A file is written under a temporary name and renamed when complete.
	dir := filepath.Dir(*out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(*out)+".*")
	if err != nil {
		return badInput("--out: %v", err)
	}
	defer os.Remove(tmp.Name())
	var n int
	err = func() error {
		defer tmp.Close()
		if err := tmp.Chmod(0o644); err != nil {
			return err
		}
		bw := bufio.NewWriterSize(tmp, 1<<16)
		var err error
		if n, err = export.Write(e.ctx, bw, st, *runID, f); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return tmp.Close()
	}()
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", *out, err)
	}
	fmt.Fprintf(e.stdout, "wrote %d rows of run %s to %s (%s)\n", n, *runID, *out, f)
	return nil
}

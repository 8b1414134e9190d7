package cli

import (
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/splinter-lab/splinter/policylog"
)

func init() {
	register("log", "the transparency log of policies: append, cosign, show, verify, diff, prove, serve", runLog)
}

type logCommand struct {
	name, args, summary string
	run                 func(e *env, args []string) error
}

// logCommands is filled by init (the commands refer to it for their usage).
var logCommands []logCommand

func init() {
	logCommands = []logCommand{
		{"append", "[--origin NAME] [--version LABEL] [--effective YYYY-MM-DD] [--witness NAME,...] DIR POLICY.yaml...", "append policy versions (creating the log and its key, DIR/log.key, on first use)", logAppend},
		{"cosign", "--witness NAME,... DIR", "have witnesses (keys in DIR/witnesses/, made on first use) cosign the latest checkpoint", logCosign},
		{"show", "DIR [INDEX]", "the checkpoint and one line per entry, or one entry in full", logShow},
		{"verify", "[--key VKEY] [--witness-key VKEY,...] DIR", "check every signature, tile, entry, bundle and proof offline; exit 1 on any tampering", logVerify},
		{"diff", "DIR A B", "what changed from the policy version at index A to the one at B", logDiff},
		{"prove", "[--size N] DIR INDEX", "print a tlog-proof of entry INDEX (against the checkpoint of size N; default the latest)", logProve},
		{"serve", "[--addr HOST:PORT] [--public] DIR", "serve the log as static tlog-tiles resources over HTTP", logServe},
	}
}

func runLog(e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(e.stderr, "usage: splinter log <command> [flags] [args]")
		for _, c := range logCommands {
			fmt.Fprintf(e.stderr, "  %-7s %s\n          %s\n", c.name, c.args, c.summary)
		}
		if len(args) == 0 {
			return badInput("no log command given")
		}
		return flag.ErrHelp
	}
	for _, c := range logCommands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	return badInput("unknown log command %q (want append, cosign, show, verify, diff, prove or serve)", args[0])
}

func logFlags(e *env, name string) *flag.FlagSet {
	for _, c := range logCommands {
		if c.name == name {
			return flags(e, "log "+name, c.args)
		}
	}
	panic("no log command " + name)
}

// openLogDir opens an existing log read-only; a missing or broken log is
// bad input.
func openLogDir(dir string) (*policylog.Log, error) {
	l, err := policylog.Open(dir, "")
	if err != nil {
		return nil, inputError{err}
	}
	return l, nil
}

// logWriter opens the log in dir with its key (DIR/log.key), creating both
// if there is no log yet.
func logWriter(e *env, dir, origin string) (*policylog.Log, error) {
	keyFile := filepath.Join(dir, policylog.SignerKeyFile)
	if _, err := os.Stat(filepath.Join(dir, policylog.CheckpointFile)); err == nil {
		skey, _, err := policylog.LoadOrCreateKey(keyFile, origin, rand.Reader)
		if err != nil {
			return nil, inputError{err}
		}
		l, err := policylog.Open(dir, skey)
		if err != nil {
			return nil, inputError{err}
		}
		return l, nil
	}
	skey, created, err := policylog.LoadOrCreateKey(keyFile, origin, rand.Reader)
	if err != nil {
		return nil, inputError{err}
	}
	if created {
		fmt.Fprintf(e.stderr, "created the log's signer key %s (mode 0600)\n", keyFile)
	}
	return policylog.Create(dir, skey)
}

// witnessFor loads (or makes) the witness called name whose key and state
// live in DIR/witnesses/.
func witnessFor(e *env, l *policylog.Log, name string) (*policylog.Witness, string, error) {
	base := filepath.Join(l.Dir(), policylog.WitnessDir, url.PathEscape(name))
	skey, created, err := policylog.LoadOrCreateKey(base+".key", name, rand.Reader)
	if err != nil {
		return nil, "", inputError{err}
	}
	if created {
		fmt.Fprintf(e.stderr, "created witness key %s (mode 0600)\n", base+".key")
	}
	c, err := policylog.NewCosigner(skey, time.Now)
	if err != nil {
		return nil, "", err
	}
	v, err := note.NewVerifier(l.VerifierKey())
	if err != nil {
		return nil, "", err
	}
	w := policylog.NewWitness(c, v)
	if st, err := os.ReadFile(base + ".state"); err == nil {
		if err := w.RestoreState(st); err != nil {
			return nil, "", inputError{fmt.Errorf("%s.state: %w", base, err)}
		}
	}
	return w, base + ".state", nil
}

func cosignAll(e *env, l *policylog.Log, names []string) error {
	for _, n := range names {
		w, statePath, err := witnessFor(e, l, n)
		if err != nil {
			return err
		}
		if err := l.Cosign(w); err != nil {
			return err
		}
		if err := os.WriteFile(statePath, w.MarshalState(), 0o600); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "cosigned by %s at size %d\n", n, l.Size())
	}
	return nil
}

func logAppend(e *env, args []string) error {
	fs := logFlags(e, "append")
	origin := fs.String("origin", "policylog.splinter.test", "the log's origin and key name (used when the log is created)")
	version := fs.String("version", "", "version label (default: the policy's meta year)")
	effective := fs.String("effective", "", "effective date YYYY-MM-DD (default: the policy's meta effective date)")
	witnesses := fs.String("witness", "", "witnesses to cosign the new checkpoint, comma-separated")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return badInput("want a log directory and at least one policy file")
	}
	var day policylog.Day
	if *effective != "" {
		d, err := policylog.ParseDay(*effective)
		if err != nil {
			return inputError{err}
		}
		day = d
	}
	var pvs []*policylog.PolicyVersion
	var bad []string
	for _, f := range fs.Args()[1:] {
		pv, err := policylog.ReadPolicyVersion(f, *version, day)
		if err != nil {
			bad = append(bad, err.Error())
			continue
		}
		pvs = append(pvs, pv)
	}
	if len(bad) > 0 {
		return badInput("%s", strings.Join(bad, "\n"))
	}
	l, err := logWriter(e, fs.Arg(0), *origin)
	if err != nil {
		return err
	}
	for _, pv := range pvs {
		i, err := l.AppendPolicy(pv)
		if err != nil {
			return err
		}
		e1, _, _ := l.Entry(i)
		fmt.Fprintf(e.stdout, "%d %s\n", i, e1.Summary())
	}
	return cosignAll(e, l, splitList(*witnesses))
}

func logCosign(e *env, args []string) error {
	fs := logFlags(e, "cosign")
	witnesses := fs.String("witness", "", "witness names, comma-separated")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *witnesses == "" {
		return badInput("want --witness NAME,... and a log directory")
	}
	l, err := logWriter(e, fs.Arg(0), "")
	if err != nil {
		return err
	}
	return cosignAll(e, l, splitList(*witnesses))
}

func logShow(e *env, args []string) error {
	fs := logFlags(e, "show")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return badInput("want a log directory and at most one index")
	}
	l, err := openLogDir(fs.Arg(0))
	if err != nil {
		return err
	}
	if fs.NArg() == 2 {
		i, err := parseIndex(fs.Arg(1), l)
		if err != nil {
			return err
		}
		ent, data, err := l.Entry(i)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "entry %d of %d\n%s\n", i, l.Size(), data)
		if ent.Type == policylog.EntryPolicyVersion {
			pv, err := l.PolicyVersion(i)
			if err != nil {
				return err
			}
			for _, f := range pv.Files {
				fmt.Fprintf(e.stdout, "\n--- %s (%d bytes)\n", f.Path, len(f.Data))
				if f.Path == pv.Main {
					e.stdout.Write(f.Data)
				}
			}
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "%s", l.Checkpoint())
	fmt.Fprintln(e.stdout)
	for i := int64(0); i < l.Size(); i++ {
		ent, _, err := l.Entry(i)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%d %s\n", i, ent.Summary())
	}
	return nil
}

func logVerify(e *env, args []string) error {
	fs := logFlags(e, "verify")
	key := fs.String("key", "", "the log's verifier key (default: DIR/log.vkey, trusted on first use)")
	wkeys := fs.String("witness-key", "", "witness cosignature verifier keys, comma-separated (default: DIR/witnesses/*.vkey)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return badInput("want one log directory")
	}
	dir := fs.Arg(0)
	keys, err := policylog.KeysFromDir(dir)
	if err != nil {
		return inputError{err}
	}
	if *key != "" {
		keys.Log = *key
	}
	if *wkeys != "" {
		keys.Witnesses = splitList(*wkeys)
	}
	rep, err := policylog.VerifyDir(dir, keys)
	var ve *policylog.VerifyError
	switch {
	case errors.As(err, &ve):
		return err
	case err != nil:
		return inputError{err}
	}
	fmt.Fprintf(e.stdout, "ok  %s: log %s, %d entries, root %x..., cosigned by [%s]; %d tiles and bundles, %d checkpoints, %d policy bundles checked\n",
		dir, rep.Origin, rep.Size, rep.Root[:6], strings.Join(rep.Cosigners, " "), rep.Tiles, rep.Checkpoints, rep.Policies)
	return nil
}

func logDiff(e *env, args []string) error {
	fs := logFlags(e, "diff")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 3 {
		return badInput("want a log directory and two indices")
	}
	l, err := openLogDir(fs.Arg(0))
	if err != nil {
		return err
	}
	var pvs [2]*policylog.PolicyVersion
	for k, a := range fs.Args()[1:] {
		i, err := parseIndex(a, l)
		if err != nil {
			return err
		}
		if pvs[k], err = l.PolicyVersion(i); err != nil {
			return inputError{err}
		}
	}
	d, err := policylog.Diff(pvs[0], pvs[1])
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, d)
	return nil
}

func logProve(e *env, args []string) error {
	fs := logFlags(e, "prove")
	size := fs.Int64("size", 0, "prove against the checkpoint of this size (default: the latest)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return badInput("want a log directory and an index")
	}
	l, err := openLogDir(fs.Arg(0))
	if err != nil {
		return err
	}
	i, err := parseIndex(fs.Arg(1), l)
	if err != nil {
		return err
	}
	n := *size
	if n == 0 {
		n = l.Size()
	}
	p, err := l.ProveInclusion(i, n)
	if err != nil {
		return inputError{err}
	}
	_, err = e.stdout.Write(p)
	return err
}

func logServe(e *env, args []string) error {
	fs := logFlags(e, "serve")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	public := fs.Bool("public", false, "allow a non-loopback --addr")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return badInput("want one log directory")
	}
	dir := fs.Arg(0)
	if _, err := openLogDir(dir); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return badInput("--addr %q: %v", *addr, err)
	}
	if ip := net.ParseIP(host); !*public && host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return badInput("--addr %q is not a loopback address; add --public to serve beyond this machine", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return inputError{err}
	}
	srv := &http.Server{Handler: policylog.Handler(dir), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(e.stdout, "serving %s at http://%s/ (checkpoint, tile/, policies/)\n", dir, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case <-e.ctx.Done():
		srv.Close()
		<-done
		return nil
	case err := <-done:
		return err
	}
}

func parseIndex(s string, l *policylog.Log) (int64, error) {
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || i < 0 {
		return 0, badInput("index %q is not a non-negative integer", s)
	}
	if i >= l.Size() {
		return 0, badInput("index %d is beyond the log's %d entries", i, l.Size())
	}
	return i, nil
}

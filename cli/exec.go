//go:build linux

package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/portal"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("exec", "run a program inside a host of the world (root, /dev/net/tun)", runExec)
}

func runExec(e *env, args []string) error {
	code, err := execute(e, args)
	if err != nil {
		return err
	}
	if code != 0 {
		return exitCode(code)
	}
	return nil
}

// execute runs the program and returns its exit status; errors are
// splinter's own.
func execute(e *env, args []string) (int, error) {
	fs := flags(e, "exec", "[--scenario NAME|FILE] [--state DIR] [--log FILE] --host NAME -- CMD [ARGS...]")
	scen := fs.String("scenario", "", "scenario (embedded name or file) of a private world, default "+scenario.Default+"; when attaching to splinter up, it must be up's")
	state := fs.String("state", "", "state directory of a running splinter up to attach to (default: "+defaultState+" if a world is up there, else a private world for the duration of the command)")
	host := fs.String("host", "", "the host to run CMD on (a host name, or the domain of a site to stand in for)")
	logPath := fs.String("log", "", "private world only: write its decisions as JSON lines to this file")
	if err := parse(fs, args); err != nil {
		return 0, err
	}
	if *host == "" {
		return 0, badInput("--host is required")
	}
	if fs.NArg() == 0 {
		return 0, badInput("no command: splinter exec --host NAME -- CMD [ARGS...]")
	}
	if err := portal.Check(); err != nil {
		return 0, inputError{err}
	}
	wd, where, closeWorld, err := execWorld(*scen, *state, *logPath)
	if err != nil {
		return 0, err
	}
	defer closeWorld()

	c := portal.Command(wd, *host, fs.Arg(0), fs.Args()[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, e.stdout, e.stderr
	// SIGINT and SIGQUIT reach the program from the terminal, which
	// signals the whole foreground process group; SIGTERM and SIGHUP sent
	// to splinter are passed on. Either way, splinter waits for the
	// program.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	for {
		select {
		case s := <-sigs:
			c.Process.Signal(s)
		case err := <-done:
			if errors.Is(err, portal.ErrWorldGone) {
				return 0, fmt.Errorf("the world at %s went away (splinter up stopped or was killed); %s was killed", where, fs.Arg(0))
			}
			return exitStatus(err)
		}
	}
}

// exitStatus turns the program's Wait error into an exit status, as a shell
// does: 128+N for a program killed by signal N.
func exitStatus(err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 0, err
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}

// upWorld finds the splinter up to join: the one at state (which must
// answer when state is given), else the one at defaultState; its scenario
// must be scen's when scen is given. It returns nil, and no error, when no
// world is up and state was not given.
func upWorld(scen, state string) (*portal.Remote, string, error) {
	want := ""
	if scen != "" {
		sc, err := openScenario(scen)
		if err != nil {
			return nil, "", err
		}
		want = sc.Name
	}
	dir := state
	if dir == "" {
		dir = defaultState
	}
	r, err := portal.Dial(filepath.Join(dir, sockName))
	switch {
	case err == nil && (want == "" || want == r.Scenario()):
		return r, dir, nil
	case err == nil && state != "":
		return nil, "", badInput("the world up at %s runs scenario %s, not %s", dir, r.Scenario(), want)
	case state != "" && errors.Is(err, fs.ErrPermission):
		return nil, "", badInput("cannot reach the world at %s: %v (splinter up runs as root; so must this)", dir, err)
	case state != "":
		return nil, "", badInput("no world is up at %s (start one with: splinter up --state %s)", dir, dir)
	}
	return nil, "", nil
}

// execWorld finds the world to attach to: a splinter up (upWorld), else a
// private world started now. where says which, for messages.
func execWorld(scen, state, logPath string) (w portal.World, where string, closeWorld func(), err error) {
	r, dir, err := upWorld(scen, state)
	if err != nil {
		return nil, "", nil, err
	}
	if r != nil {
		if logPath != "" {
			return nil, "", nil, badInput("--log is for a private world; splinter up writes %s", filepath.Join(dir, portal.LogName))
		}
		return r, dir, func() {}, nil
	}
	if scen == "" {
		scen = scenario.Default
	}
	spec, err := lab.Load(scen)
	if err != nil {
		return nil, "", nil, err
	}
	var logFile *os.File
	opts := lab.Options{Keep: 10000}
	if logPath != "" {
		// splinter runs as root here: never follow a link planted at the
		// log's path.
		if logFile, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o644); err != nil {
			return nil, "", nil, badInput("--log: %v", err)
		}
		opts.Decisions = logFile
	}
	lb, err := spec.Start(context.Background(), opts)
	if err != nil {
		if logFile != nil {
			logFile.Close()
		}
		return nil, "", nil, err
	}
	l := portal.NewLocal(lb.World())
	return l, "a private world", func() {
		l.Close()
		lb.Close()
		if logFile != nil {
			if err := logFile.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "splinter exec: %v\n", err)
			}
		}
	}, nil
}

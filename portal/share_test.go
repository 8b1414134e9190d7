//go:build linux

package portal_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/portal"
)

// serveControl serves l on a control socket, as splinter up does, and
// returns a client of it, as splinter exec makes.
func serveControl(t *testing.T, l *portal.Local, cfg portal.ServerConfig) (*portal.Server, *portal.Remote) {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv, err := portal.Listen(sock, l, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	remote, err := portal.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	return srv, remote
}

// TestProgramsShareHost: programs run on one host at once share its
// namespace. A client started on us-vps-1 while a server runs there reaches
// it on the host's loopback, and reaches a site across the world; the
// server keeps running when the client is done; when both have left, the
// host's own stack has its packets back.
func TestProgramsShareHost(t *testing.T) {
	w, l := lab(t)
	_, remote := serveControl(t, l, portal.ServerConfig{Scenario: "portal-lab"})
	stop := startServer(t, remote, "us-vps-1", "127.0.0.1:8081")
	self, _ := os.Executable()
	for i, url := range []string{"http://127.0.0.1:8081/", "https://www.freepress-herald.com/", "http://127.0.0.1:8081/"} {
		out, errOut, err := run(t, remote, "us-vps-1", []string{testGetEnv + "=" + url}, self)
		want := "hello from us-vps-1\n"
		if i == 1 {
			want = "<title>"
		}
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("program %d on the busy host, GET %s: %v %q %s", i+2, url, err, out, errOut)
		}
	}
	if got := l.Attached(); len(got) != 1 || got[0] != "us-vps-1" {
		t.Fatalf("attached %v while the server runs, want [us-vps-1]", got)
	}
	stop()
	if got := l.Attached(); len(got) != 0 {
		t.Fatalf("attached %v after every program left", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://www.freepress-herald.com/", nil)
	resp, err := w.Host("us-vps-1").HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("the host's own stack after the programs left: %v", err)
	}
	resp.Body.Close()
}

// TestBackgroundChildrenDie: a program runs as the second process of a PID
// namespace of its own, whose first process reaps what it leaves; when the
// program exits, what it started in the background dies with it.
func TestBackgroundChildrenDie(t *testing.T) {
	_, l := lab(t)
	const marker = "987"
	out, errOut, err := run(t, l, "cn-client-1", nil, "sh", "-c", "sleep "+marker+" >/dev/null 2>&1 & tr '\\0' ' ' </proc/1/cmdline; echo; ls /proc | grep -c '^[0-9]'")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	// /proc is the PID namespace's: its first process (the reaper), sh,
	// sleep, ls and grep.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "splinter-portal cn-client-1") || lines[1] > "6" || len(lines[1]) != 1 {
		t.Errorf("output %q: want pid 1 the namespace's first process and at most 6 processes in its /proc", out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids := processes("sleep\x00" + marker + "\x00")
		if len(pids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program's background child outlived it: pids %v", pids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processes lists the pids whose command line is cmdline.
func processes(cmdline string) []string {
	var pids []string
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && string(b) == cmdline {
			pids = append(pids, filepath.Base(filepath.Dir(f)))
		}
	}
	return pids
}

// TestWorldGone: when the world a program's host belongs to goes away (the
// server of splinter up closes, or an in-process world is closed), the
// program is killed and Wait says why.
func TestWorldGone(t *testing.T) {
	_, l := lab(t)
	srv, remote := serveControl(t, l, portal.ServerConfig{Scenario: "portal-lab"})
	for _, tc := range []struct {
		name  string
		world portal.World
		close func()
	}{
		{"server-closed", remote, func() { srv.Close() }},
		{"local-closed", l, func() { l.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := portal.Command(tc.world, "cn-client-1", "sleep", "60")
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- c.Wait() }()
			tc.close()
			select {
			case err := <-done:
				if !errors.Is(err, portal.ErrWorldGone) {
					t.Fatalf("Wait: %v, want ErrWorldGone", err)
				}
			case <-time.After(20 * time.Second):
				c.Process.Kill()
				t.Fatal("the program outlived its world by 20 s")
			}
		})
	}
}

// TestMeasureRequest: a measure request reaches the server's Measure hook
// with the host and URL asked, and the hook's answer or refusal comes back.
func TestMeasureRequest(t *testing.T) {
	_, l := lab(t)
	_, remote := serveControl(t, l, portal.ServerConfig{Scenario: "portal-lab",
		Measure: func(ctx context.Context, host, url string) ([]byte, error) {
			if host != "cn-client-1" {
				return nil, &portal.RequestError{Msg: "no host " + host, BadInput: true}
			}
			return []byte(`{"input":"` + url + `"}`), nil
		}})
	b, err := remote.Measure(context.Background(), "cn-client-1", "http://www.freepress-herald.com/")
	if err != nil || !bytes.Equal(b, []byte(`{"input":"http://www.freepress-herald.com/"}`)) {
		t.Fatalf("measure: %s, %v", b, err)
	}
	_, err = remote.Measure(context.Background(), "nowhere", "http://x.com/")
	var re *portal.RequestError
	if !errors.As(err, &re) || !re.BadInput || !strings.Contains(err.Error(), "no host nowhere") {
		t.Fatalf("measure from an unknown host: %v, want a bad-input refusal", err)
	}
}

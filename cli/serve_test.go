package cli_test

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/cli"
	"github.com/splinter-lab/splinter/store"
)

func TestServeBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"serve", "--db", filepath.Join(dir, "none.db")}, "no store at " + filepath.Join(dir, "none.db")},
		{[]string{"serve", "--db", dir}, "is not a regular file"},
		{[]string{"serve", "--db", filepath.Join(dir, "none.db"), "extra"}, `unexpected argument "extra"`},
		{[]string{"serve", "--addr", "nowhere"}, `--addr "nowhere"`},
	} {
		code, _, errOut := run(tc.args...)
		if code != 2 || !strings.Contains(errOut, tc.err) || strings.Contains(errOut, "goroutine") {
			t.Errorf("%q: exit %d, %s; want 2 and %q", tc.args, code, errOut, tc.err)
		}
	}
}

// TestServe serves a store named by $SPLINTER_DB on a loopback port, reads
// its API and a page, and stops on interrupt.
func TestServe(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "runs.db")
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Begin(ctx, store.Run{ID: "served-run", Scenario: "two-lands", Shards: 1}, store.Part{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx, store.Complete, store.Health{}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	t.Setenv("SPLINTER_DB", db)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- cli.Run(sctx, []string{"serve", "--addr", "127.0.0.1:0"}, &out, &errOut) }()
	listening := regexp.MustCompile(`on http://(127\.0\.0\.1:\d+)/`)
	var addr string
	for deadline := time.Now().Add(30 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s%s", code, out.String(), errOut.String())
		default:
		}
	}
	if addr == "" {
		t.Fatalf("serve did not say where it listens: %q", out.String())
	}
	for path, want := range map[string]string{
		"/api/v1/runs":            `"id":"served-run"`,
		"/runs/served-run":        "two-lands",
		"/api/v1/openapi.yaml":    "openapi: 3.0.3",
		"/api/v1/runs/served-run": `"status":"complete"`,
	} {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %.300s", path, resp.StatusCode, body)
		}
	}
	stop()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exited %d on interrupt: %s", code, errOut.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop on interrupt")
	}
}

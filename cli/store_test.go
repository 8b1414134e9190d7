package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/export"
	"github.com/splinter-lab/splinter/store"
)

// twoSites is a Citizen Lab list of two sites of two-lands, one that
// China's border blocks and one it does not.
func twoSites(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "list.csv")
	if err := os.WriteFile(p, []byte("url,category_code\nhttp://www.tunnelgate-vpn.com/,ANON\nhttp://www.people-daily.cn/,NEWS\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunWritesStore is issue 15's items 1, 2 and 4 through the command
// line: splinter run writes its run into the default store (where splinter
// serve looks), scored, and splinter export writes it out as JSON lines,
// CSV and Parquet; score reads it back.
func TestRunWritesStore(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", filepath.Join(dir, "data"))
	list := twoSites(t, dir)
	out := filepath.Join(dir, "out")
	code, stdout, stderr := run("run", "--scenario", "two-lands", "--from", "CN", "--list", list, "--out", out, "--run", "cli-store-1")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, stderr)
	}
	db := filepath.Join(dir, "data", "splinter", "splinter.db")
	if !strings.Contains(stdout, "store: run cli-store-1 in "+db) {
		t.Errorf("run does not say where it stored the run:\n%s", stdout)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Run(context.Background(), "cli-store-1")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.Complete || r.Measurements != 2 || r.Decisions == 0 || r.Scenario != "two-lands" {
		t.Errorf("stored run: %s, %d measurements, %d decisions, scenario %q; want complete, 2, some, two-lands", r.Status, r.Measurements, r.Decisions, r.Scenario)
	}

	// JSON lines on standard output, from the default store.
	code, stdout, stderr = run("export", "--run", "cli-store-1", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("export jsonl: exit %d\n%s", code, stderr)
	}
	var rows []export.Row
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var row export.Row
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("export jsonl line %d: %v", len(rows)+1, err)
		}
		rows = append(rows, row)
	}
	inputs := map[string]string{}
	for _, row := range rows {
		if row.RunID != "cli-store-1" || row.Truth == nil {
			t.Errorf("row %+v: want run cli-store-1, scored", row)
			continue
		}
		inputs[row.Input] = *row.Truth
	}
	if len(inputs) != 2 || inputs["http://www.people-daily.cn/"] != "accessible" || inputs["http://www.tunnelgate-vpn.com/"] == "accessible" {
		t.Errorf("exported truths %v: want the VPN site blocked from CN and people-daily.cn reachable", inputs)
	}

	// CSV and Parquet into files.
	csvPath, pqPath := filepath.Join(dir, "run.csv"), filepath.Join(dir, "run.parquet")
	for _, c := range [][]string{{"csv", csvPath}, {"parquet", pqPath}} {
		code, stdout, stderr = run("export", "--db", db, "--run", "cli-store-1", "--format", c[0], "--out", c[1])
		if code != 0 || !strings.Contains(stdout, "rows of run cli-store-1") {
			t.Fatalf("export %s: exit %d\n%s%s", c[0], code, stdout, stderr)
		}
	}
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(rows)+1 || strings.Join(recs[0], ",") != strings.Join(export.Columns(), ",") {
		t.Errorf("csv: %d records (want %d and a header), header %v", len(recs), len(rows)+1, recs[0])
	}
	pq, err := os.ReadFile(pqPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(pq) < 8 || !bytes.HasPrefix(pq, []byte("PAR1")) || !bytes.HasSuffix(pq, []byte("PAR1")) {
		t.Errorf("parquet: %d bytes, not framed by PAR1", len(pq))
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".run.*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// score reads the run back and agrees with the run.
	code, stdout, stderr = run("score", "--db", db, "--run", "cli-store-1", "--out", filepath.Join(dir, "rescored"))
	if code != 0 || !strings.Contains(stdout, "run cli-store-1: 2 measurements from 1 shard(s)") {
		t.Fatalf("score: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, name := range []string{"score.json", "report.html"} {
		if _, err := os.Stat(filepath.Join(dir, "rescored", name)); err != nil {
			t.Error(err)
		}
	}
}

// TestStoreCommandsBadInput: the store's commands refuse bad input with
// exit 2 and a message saying what is wrong.
func TestStoreCommandsBadInput(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	w, err := st.Begin(context.Background(), store.Run{ID: "r-1", Scenario: "two-lands", Shards: 1}, store.Part{})
	if err == nil {
		err = w.Close(context.Background(), store.Complete, store.CurrentHealth())
	}
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"export", "--db", db, "--format", "csv"}, "--run ID is required: latest runs: r-1"},
		{[]string{"export", "--db", db, "--run", "nope", "--format", "csv"}, `no run "nope"`},
		{[]string{"export", "--db", db, "--run", "r-1", "--format", "xml"}, "xml"},
		{[]string{"export", "--db", filepath.Join(dir, "none.db"), "--run", "r-1", "--format", "csv"}, "no store at"},
		{[]string{"export", "--db", "mysql://x", "--run", "r-1", "--format", "csv"}, "unsupported scheme"},
		{[]string{"score", "--db", db, "--run", "nope"}, `no run "nope"`},
		{[]string{"run", "--scenario", "two-lands", "--shard", "0/2"}, "--shard needs --run ID"},
		{[]string{"run", "--scenario", "two-lands", "--run", "a/b"}, `run id "a/b": want 1 to 64 letters`},
		{[]string{"run", "--scenario", "two-lands", "--shard", "2/2", "--run", "x"}, "want 0 <= I < N"},
		{[]string{"run", "--scenario", "two-lands", "--shard", "0/2", "--run", "x", "--db", "off"}, "--shard needs a store"},
	} {
		code, _, stderr := run(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "goroutine") {
			t.Errorf("%s: exit %d, %q; want exit 2 saying %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

// TestRunInterruptedStore is issue 12's D7 with the store: the store shows
// a run while it runs, and SIGINT during
// splinter run stops it within a second or so; its files are whole (no record cut,
// none of a previous run's left beside them), say it was interrupted, and
// its run in the store is marked interrupted.
func TestRunInterruptedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the default world")
	}
	dir := t.TempDir()
	out, db := filepath.Join(dir, "out"), filepath.Join(dir, "s.db")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "report.html"), []byte("a previous run"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, output := splinterCmd("run", "--from", "CN", "--out", out, "--db", db, "--run", "cli-int-1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Interrupt once a few measurements are on disk.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		tmp, _ := filepath.Glob(filepath.Join(out, ".measurements.jsonl.*"))
		if len(tmp) == 1 {
			if b, _ := os.ReadFile(tmp[0]); bytes.Count(b, []byte("\n")) >= 3 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no measurement written in 3 minutes:\n%s", output)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The run is in the store as it proceeds (what splinter serve shows).
	live, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	for {
		r, err := live.Run(context.Background(), "cli-int-1")
		if err == nil && r.Status == store.Running && r.Measurements > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the store shows no measurement of the running run: %+v, %v", r, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	live.Close()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running a minute after SIGINT:\n%s", output)
	}
	// Within a second on an idle machine (the world is closed in the
	// background); three leave room for a loaded one.
	if took := time.Since(sent); took > 3*time.Second {
		t.Errorf("stopped %.1fs after SIGINT, want about a second", took.Seconds())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(output.String(), "interrupted") || strings.Contains(output.String(), "goroutine") {
		t.Errorf("exit %d, output:\n%s\nwant exit 1 saying it was interrupted", code, output)
	}
	ms := 0
	b, err := os.ReadFile(filepath.Join(out, "measurements.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("measurements.jsonl: a cut record %.80q", line)
		}
		ms++
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil || !bytes.Contains(html, []byte("This run was interrupted")) {
		t.Errorf("report.html (%v) does not say the run was interrupted", err)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Run(context.Background(), "cli-int-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.Interrupted || r.Measurements != int64(ms) {
		t.Errorf("stored run: %s with %d measurements; want interrupted with the %d of measurements.jsonl", r.Status, r.Measurements, ms)
	}
}

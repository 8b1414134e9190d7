package explorer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/store"
)

// The tests run against a store holding two real runs of the default
// world measured from China and the United States: "cn-border-off", the
// world of 2024-05-01 with China's national border switched off (Henan's
// provincial firewall stays), and "cn-border-on", the same world on
// 2024-06-01 with the border on. The sites are the first two of every
// category, so every category shows and the runs take seconds.
const (
	runOff = "cn-border-off"
	runOn  = "cn-border-on"
)

var fixture struct {
	once sync.Once
	dir  string
	dsn  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture.dir != "" {
		os.RemoveAll(fixture.dir)
	}
	os.Exit(code)
}

// fixtureDSN builds the store once per process. Short mode (the race
// pass) skips the tests that need it: under the race detector the world
// runs ten times slower, its probes' timeouts fire and the measurements
// lose their meaning.
func fixtureDSN(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("short mode: the tests on two measured runs run in the full pass")
	}
	fixture.once.Do(func() {
		fixture.dir, fixture.err = os.MkdirTemp("", "splinter-explorer-")
		if fixture.err != nil {
			return
		}
		fixture.dsn = filepath.Join(fixture.dir, "runs.db")
		start := time.Now()
		fixture.err = buildFixture(context.Background(), fixture.dsn)
		t.Logf("fixture: two runs measured and stored in %.1fs", time.Since(start).Seconds())
	})
	if fixture.err != nil {
		t.Fatal(fixture.err)
	}
	return fixture.dsn
}

func buildFixture(ctx context.Context, dsn string) error {
	s, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, r := range []struct {
		id       string
		date     time.Time
		cnBorder bool
	}{
		{runOff, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), false},
		{runOn, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), true},
	} {
		if err := measureInto(ctx, s, r.id, r.date, r.cnBorder); err != nil {
			return fmt.Errorf("run %s: %w", r.id, err)
		}
	}
	return nil
}

// measureInto measures the default world (with or without China's
// national border) and writes the run into s as splinter run does:
// measurements and decisions, then the scoring.
func measureInto(ctx context.Context, s *store.Store, id string, date time.Time, cnBorder bool) error {
	spec, err := lab.Load("splinternet")
	if err != nil {
		return err
	}
	if !cnBorder {
		spec.Borders = slices.DeleteFunc(spec.Borders, func(b lab.Border) bool { return b.Name == "CN" })
	}
	all, err := lab.Inputs(spec.Plan, "")
	if err != nil {
		return err
	}
	var inputs []probe.Input
	per := map[string]int{}
	for _, in := range all {
		if per[in.Category] < 1 {
			per[in.Category]++
			inputs = append(inputs, in)
		}
	}
	var decisions bytes.Buffer
	res, err := lab.Run(ctx, spec, lab.RunOptions{From: []string{"CN", "US"}, Inputs: inputs,
		Lab: lab.Options{Clock: clock.NewOffset(date), Seed: 1, Decisions: &decisions}})
	if err != nil {
		return err
	}
	var ps []*policy.Policy
	var profiles []store.Profile
	for _, b := range spec.Borders {
		// The version of each history in force at the run's date.
		if p := b.At(date); p != nil && !slices.Contains(ps, p) {
			ps = append(ps, p)
			profiles = append(profiles, store.ProfileOf(p, "test"))
		}
	}
	desc := "China's national border on"
	if !cnBorder {
		desc = "China's national border off"
	}
	w, err := s.Begin(ctx, store.Run{ID: id, Scenario: spec.Scenario.Name, Description: desc, Simulated: date,
		SoftwareName: "splinter", SoftwareVersion: "test", Shards: 1, Profiles: profiles, Rules: store.RulesOf(ps...),
		Labels: map[string]string{"cn-border": map[bool]string{true: "on", false: "off"}[cnBorder]}},
		store.Part{Health: store.CurrentHealth()})
	if err != nil {
		return err
	}
	for _, m := range res.Measurements {
		if err := w.Measurement(m); err != nil {
			return err
		}
	}
	sc := bufio.NewScanner(&decisions)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var d border.Decision
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			return err
		}
		if err := w.Decision(d); err != nil {
			return err
		}
	}
	if err := w.Result(res.Score); err != nil {
		return err
	}
	return w.Close(ctx, store.Complete, store.CurrentHealth())
}

// server serves the fixture store.
func server(t testing.TB) (*httptest.Server, *store.Store) {
	t.Helper()
	s, err := store.Open(context.Background(), fixtureDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := httptest.NewServer(New(s, Options{Logf: t.Logf}))
	t.Cleanup(srv.Close)
	return srv, s
}

package evade_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/evade"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/strategy"
)

const (
	site    = "http://www.plain-control-page.com/"
	keyword = "http://www.plain-control-page.com/?q=ultrasurf"
)

// testSpec is testdata/lab.yaml: a client behind CN-2019, one behind
// IN-airtel, two sites in the US. Loaded once.
var testSpec = sync.OnceValues(func() (*lab.Spec, error) { return lab.Load("testdata/lab.yaml") })

func spec(t testing.TB) *lab.Spec {
	t.Helper()
	s, err := testSpec()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func start(t testing.TB, opts evade.Options) *evade.Session {
	t.Helper()
	return startSpec(t, spec(t), opts)
}

// defaultSpec is the default scenario with its embedded profiles. Loaded
// once.
var defaultSpec = sync.OnceValues(func() (*lab.Spec, error) {
	sc, err := scenario.Embedded(scenario.Default)
	if err != nil {
		return nil, err
	}
	return lab.FromScenario(sc, lab.Resolve{Embedded: true})
})

// startDefault starts a session in the default scenario, dated 2019-08-01
// (Kazakhstan's and Airtel's boxes of 2019, the GFW of 2019).
func startDefault(t testing.TB, opts evade.Options) *evade.Session {
	t.Helper()
	sp, err := defaultSpec()
	if err != nil {
		t.Fatal(err)
	}
	opts.At = time.Date(2019, 8, 1, 0, 0, 0, 0, time.UTC)
	return startSpec(t, sp, opts)
}

func startSpec(t testing.TB, sp *lab.Spec, opts evade.Options) *evade.Session {
	t.Helper()
	s, err := evade.Start(context.Background(), sp, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func run(t testing.TB, s *evade.Session, a evade.Attempt) (evade.Tally, []*evade.Trial) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tally, trials, err := s.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s — %s", tally, tally.Residual())
	return tally, trials
}

// TestTrials: an allowed URL succeeds every time with no decision; the
// keyword URL is reset by the GFW's HTTP box, and every trial is joined to
// its own flow's decisions; every trial has its own client port; no trial
// meets a residual block another set off, though the server ports are few
// enough that the clock must jump.
func TestTrials(t *testing.T) {
	s := start(t, evade.Options{From: "cn-client-1", Seed: 7, Concurrency: 8, Ports: 4})
	before := s.Lab().Clock().Now()

	tally, trials := run(t, s, evade.Attempt{URL: site, Trials: 24})
	if tally.Success != 24 || tally.Blocked != 0 || tally.Jumps != 0 {
		t.Errorf("allowed URL: %+v, want 24 successes, no block, no jump", tally)
	}
	for _, tr := range trials {
		if len(tr.Decisions) != 0 {
			t.Errorf("allowed trial %d has decisions: %+v", tr.N, tr.Decisions)
		}
	}

	// Over TLS too, on the extra ports as well as on 443.
	tally, trials = run(t, s, evade.Attempt{URL: "https://www.plain-control-page.com/robots.txt", Trials: 8})
	if tally.Success != 8 {
		t.Errorf("https: %+v, want 8 successes", tally)
	}
	servers := map[netip.AddrPort]bool{}
	for _, tr := range trials {
		servers[tr.Server] = true
	}
	if len(servers) != 4 {
		t.Errorf("https trials used %d server ports, want 4", len(servers))
	}

	tally, trials = run(t, s, evade.Attempt{URL: keyword, Trials: 40})
	if tally.Trials != 40 || tally.Reset < 30 || tally.Success > 6 {
		t.Errorf("keyword URL: %+v, want about 97%% reset", tally)
	}
	if tally.Jumps == 0 || tally.Hits != 0 {
		t.Errorf("keyword URL on 4 ports: %d jumps, %d hits; want jumps and no hit", tally.Jumps, tally.Hits)
	}
	if tally.Ports != 4 {
		t.Errorf("%d server ports, want 4", tally.Ports)
	}
	if skipped := s.Lab().Clock().Now().Sub(before); skipped < tally.Skipped || tally.Skipped < time.Duration(tally.Jumps)*90*time.Second {
		t.Errorf("world clock moved %v; tally says %v skipped in %d jumps (residual 90s)", skipped, tally.Skipped, tally.Jumps)
	}
	used := map[[2]netip.AddrPort]bool{}
	blocked := 0
	for _, tr := range trials {
		k := [2]netip.AddrPort{tr.Client, tr.Server}
		if used[k] {
			t.Errorf("trial %d reuses %v → %v", tr.N, tr.Client, tr.Server)
		}
		used[k] = true
		if tr.Outcome == evade.Reset {
			if len(tr.Decisions) == 0 || len(tr.FlowIDs) != 1 {
				t.Errorf("reset trial %d: decisions %v, flows %v; want the rst of its flow", tr.N, tr.Decisions, tr.FlowIDs)
			}
		}
		for _, d := range tr.Decisions {
			if d.Client != tr.Client || d.Server != tr.Server || d.FlowID != tr.FlowIDs[0] || d.Rule != "cn-http-keyword" {
				t.Errorf("trial %d (%v → %v) joined to %+v", tr.N, tr.Client, tr.Server, d)
			}
			if d.Action == border.ActionResidual && !tr.Blocked {
				t.Errorf("trial %d set off a residual block but is not marked", tr.N)
			}
		}
		if tr.Blocked {
			blocked++
		}
		if tr.Outcome == evade.Success && len(tr.Decisions) > 0 {
			t.Errorf("trial %d succeeded despite %+v", tr.N, tr.Decisions)
		}
	}
	if blocked != tally.Blocked || blocked < 30 {
		t.Errorf("%d trials blocked, tally says %d", blocked, tally.Blocked)
	}
}

// TestResidualWindowSkipped shows that the window a session skips is real:
// after a trial sets off the GFW's 90-second residual block on the one
// server port, plain connections to that port outside the session are
// reset by the block (about half of them, as the profile says), while the
// session's next trials jump the clock first and meet no block.
func TestResidualWindowSkipped(t *testing.T) {
	s := start(t, evade.Options{From: "cn-client-1", Seed: 3, Concurrency: 1, Ports: 1})
	var blocked *evade.Trial
	for i := 0; i < 5 && blocked == nil; i++ {
		_, trials := run(t, s, evade.Attempt{URL: keyword, Trials: 1})
		if trials[0].Blocked {
			blocked = trials[0]
		}
	}
	if blocked == nil {
		t.Fatal("no trial set off a residual block in 5")
	}
	client := s.Lab().World().Host("cn-client-1").HTTPClient()
	client.Timeout = 5 * time.Second
	enforced := 0
	for range 10 {
		resp, err := client.Get("http://" + blocked.Server.String() + "/")
		if err == nil {
			resp.Body.Close()
		}
	}
	for _, d := range s.Lab().Log().Decisions() {
		if d.Enforced && d.Server == blocked.Server {
			enforced++
		}
	}
	if enforced == 0 {
		t.Fatalf("10 connections to %v in the residual window: none was hit; the window this test skips is not there", blocked.Server)
	}
	tally, trials := run(t, s, evade.Attempt{URL: site, Trials: 5})
	if tally.Jumps < 1 || tally.Hits != 0 || tally.Success != 5 {
		t.Errorf("after the block: %+v; want a jump, no hit, 5 successes", tally)
	}
	for _, tr := range trials {
		if tr.Server != blocked.Server {
			t.Errorf("trial on %v, want the one port %v", tr.Server, blocked.Server)
		}
	}
}

// TestStrategies: strategies run on the right host and connection. A
// client strategy that drops the request, or a server strategy that drops
// the SYN+ACK, times every trial out; one that sends the request twice
// still gets the page; the Geneva strategy that corrupts the checksum of
// an insertion packet with a bad data offset evades the 2019 GFW (CCS
// 2019, Table 1: 98%).
func TestStrategies(t *testing.T) {
	s := start(t, evade.Options{From: "cn-client-1", Seed: 5, Timeout: 1500 * time.Millisecond})
	for _, tc := range []struct {
		name           string
		url            string
		client, server string
		min, max       int // successes of 10
		outcome        evade.Outcome
	}{
		{"client-drops-request", site, `[TCP:flags:PA]-drop-|`, "", 0, 0, evade.Timeout},
		{"server-drops-synack", site, "", `[TCP:flags:SA]-drop-|`, 0, 0, evade.Timeout},
		{"client-duplicates", site, `[TCP:flags:PA]-duplicate-|`, "", 10, 10, evade.Success},
		{"server-duplicates", site, "", `[TCP:flags:A]-duplicate-|`, 10, 10, evade.Success},
		{"desync-dataofs-chksum", keyword, `[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:chksum:corrupt},),)-|`, "", 9, 10, evade.Success},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := evade.Attempt{URL: tc.url, Trials: 10}
			if tc.client != "" {
				a.Client = strategy.MustParse(tc.client)
			}
			if tc.server != "" {
				a.Server = strategy.MustParse(tc.server)
			}
			tally, trials := run(t, s, a)
			if tally.Success < tc.min || tally.Success > tc.max {
				t.Errorf("%d successes, want %d-%d", tally.Success, tc.min, tc.max)
			}
			n := 0
			for _, tr := range trials {
				if tr.Outcome == tc.outcome {
					n++
				}
			}
			if n < tc.min {
				t.Errorf("%d trials ended %s, want at least %d", n, tc.outcome, tc.min)
			}
			if tc.outcome == evade.Timeout && n != 10 {
				t.Errorf("%d of 10 trials timed out, want all", n)
			}
		})
	}
}

// TestBlockPage: Airtel answers a listed Host with a block page, which is
// not a success: the trial ends as other (content) or, when the RST that
// follows the page wins, reset; never success.
func TestBlockPage(t *testing.T) {
	s := start(t, evade.Options{From: "in-airtel-client-1", Seed: 1})
	tally, trials := run(t, s, evade.Attempt{URL: "http://www.proxyfree-relay.net/", Trials: 10})
	if tally.Success != 0 || tally.Other+tally.Reset != 10 {
		t.Errorf("%+v: want no success", tally)
	}
	for _, tr := range trials {
		if tr.Outcome == evade.Other && (tr.Reason != evade.ReasonContent || tr.Status != http.StatusOK) {
			t.Errorf("trial %d: %s (%s, status %d), want other (content, 200)", tr.N, tr.Outcome, tr.Reason, tr.Status)
		}
		page := false
		for _, d := range tr.Decisions {
			page = page || d.Effect == border.EffectPage && d.Rule == "airtel-http"
		}
		if !page {
			t.Errorf("trial %d has no block page decision: %+v", tr.N, tr.Decisions)
		}
	}
}

// TestBadInput: an unknown host or a URL of no site is bad input, found
// before any world starts.
func TestBadInput(t *testing.T) {
	spec := spec(t)
	for _, tc := range []struct {
		from string
		urls []string
	}{
		{"", []string{site}},
		{"cn-client-9", []string{site}},
		{"cn-client-1", []string{"http://www.example.com/"}},
		{"cn-client-1", []string{"ftp://www.plain-control-page.com/"}},
		{"cn-client-1", []string{"http://www.plain-control-page.com:0/"}},
	} {
		err := evade.Check(spec, tc.from, tc.urls)
		if err == nil || !lab.IsInput(err) {
			t.Errorf("Check(%q, %q) = %v, want an input error", tc.from, tc.urls, err)
		}
	}
	if err := evade.Check(spec, "cn-client-1", []string{site, "https://www.plain-control-page.com:8443/x"}); err != nil {
		t.Errorf("good input: %v", err)
	}
}

// TestFirewalledServer: two Table 1 rows (Geneva, CCS 2019) whose
// insertion packet a bare Linux server takes as a reset, against the same
// site on a server behind a stateful firewall that drops what connection
// tracking marks INVALID (lab.yaml's us-guarded network): the firewall
// drops the insertion, the GFW of 2019 still tears its TCB down (90%
// after the handshake's ACK), and the request gets through. Row 4's copy
// carries invalid flags (tcp_valid_flags), row 25's an acknowledgment
// outside the window (tcp_in_window). The published rates, 26% and 31%,
// lie between the two servers.
func TestFirewalledServer(t *testing.T) {
	s := start(t, evade.Options{From: "cn-client-1", Seed: 25, At: time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)})
	const guarded = "http://www.guarded-control-page.com/?q=ultrasurf"
	for _, tc := range []struct{ row, dna string }{
		{"4", `[TCP:flags:PA]-duplicate(tamper{TCP:dataofs:replace:10}(tamper{TCP:flags:replace:FRAPUN},),)-|`},
		{"25", `[TCP:flags:A]-duplicate(,tamper{TCP:flags:replace:RA}(tamper{TCP:ack:corrupt},))-|`},
	} {
		t.Run("row-"+tc.row, func(t *testing.T) {
			st := strategy.MustParse(tc.dna)
			bare, _ := run(t, s, evade.Attempt{URL: keyword, Client: st, Trials: 30})
			if bare.Success > 3 {
				t.Errorf("bare server: %d of 30 through, want at most 3 (Linux resets on the copy)", bare.Success)
			}
			fw, _ := run(t, s, evade.Attempt{URL: guarded, Client: st, Trials: 30})
			if fw.Success < 20 {
				t.Errorf("firewalled server: %d of 30 through, want 20 or more (the GFW tears down 90%%)", fw.Success)
			}
		})
	}
}

// TestTrialsShareServerPort: when every block on the path covers only its
// own 4-tuple (Kazakhstan's residual block), trials share the site's one
// server port and run at once; each must still be its own connection with
// its own strategy. A TCB turnaround (a SYN+ACK copy before the SYN), which
// fools Kazakhstan's box of 2019, gets every request through only if each
// trial's packets carry its own engine's copy, also while the blocked
// trials before it are still held by the box.
func TestTrialsShareServerPort(t *testing.T) {
	// A blocked trial waits out its timeout (the box holds the flow 15 s);
	// 5 s leaves a trial that gets through room on a loaded machine.
	s := startDefault(t, evade.Options{Seed: 5, Timeout: 5 * time.Second, Concurrency: 64})
	const url = "http://www.proxyfree-relay.net/" // on Kazakhstan's Host list
	blocked, _ := run(t, s, evade.Attempt{URL: url, From: "kz-client-1", Trials: 64})
	if blocked.Success != 0 || blocked.Blocked != 64 || !blocked.OwnTuple || blocked.Ports != 1 || blocked.Jumps != 0 || blocked.Hits != 0 {
		t.Errorf("without a strategy: %+v, want 64 blocked on one shared port, no jump, no hit", blocked)
	}
	if r := blocked.Residual(); !strings.Contains(r, "64 trials set off a residual block, each on its own connection's 4-tuple") {
		t.Errorf("the residual line does not say the blocks were each trial's own: %s", r)
	}
	st, err := strategy.Parse(`[TCP:flags:S]-duplicate(tamper{TCP:flags:replace:SA},)-|`)
	if err != nil {
		t.Fatal(err)
	}
	through, _ := run(t, s, evade.Attempt{URL: url, From: "kz-client-1", Client: st, Trials: 128})
	if through.Success != 128 {
		t.Errorf("turnaround: %s, want every trial through", through)
	}
}

// TestServerWindowReduction: a server whose SYN+ACK advertises a tiny
// window (Geneva's window reduction, on the server's side) makes the client
// send its request in small segments. Boxes that take each packet on its
// own (Kazakhstan's and Airtel's of 2019) then never see a whole request;
// the GFW of 2019, which reassembles the client's stream, still does.
func TestServerWindowReduction(t *testing.T) {
	s := startDefault(t, evade.Options{Seed: 9, Timeout: 5 * time.Second, Concurrency: 20})
	st, err := strategy.Parse(`[TCP:flags:SA]-tamper{TCP:window:replace:10}(tamper{TCP:options-wscale:replace:},)-| \/`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		from, url string
		through   bool
	}{
		{"kz-client-1", "http://www.proxyfree-relay.net/", true},
		{"in-airtel-client-1", "http://www.proxyfree-relay.net/", true},
		{"cn-client-1", keyword, false},
	} {
		without, _ := run(t, s, evade.Attempt{URL: tc.url, From: tc.from, Trials: 5})
		with, _ := run(t, s, evade.Attempt{URL: tc.url, From: tc.from, Server: st, Trials: 20})
		if without.Success != 0 {
			t.Errorf("%s: %s without a strategy, want every trial censored", tc.from, without)
		}
		want := 0
		if tc.through {
			want = with.Trials
		}
		if with.Success != want {
			t.Errorf("%s: %s with window reduction, want %d through", tc.from, with, want)
		}
	}
}

// TestScenarioDate: a session without a date of its own starts at the
// scenario's (its at:), as the other commands' worlds do; one given a date
// starts there.
func TestScenarioDate(t *testing.T) {
	sp, err := lab.Load("testdata/lab.yaml") // its own, not testSpec's shared one
	if err != nil {
		t.Fatal(err)
	}
	sc := sp.Scenario
	sc.At = time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at, want time.Time
	}{
		{time.Time{}, sc.At},
		{time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 3, 1, 0, 0, 0, 0, time.UTC)},
	} {
		s := startSpec(t, sp, evade.Options{At: tc.at})
		if now := s.Lab().Clock().Now(); now.Before(tc.want) || now.After(tc.want.Add(time.Hour)) {
			t.Errorf("At %v: the world's clock reads %v, want %v", tc.at, now, tc.want)
		}
	}
}

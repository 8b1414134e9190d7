package lab_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/policylog"
	"github.com/splinter-lab/splinter/score"
)

// seeded is a deterministic source of key material.
func seeded(n byte) io.Reader {
	var seed [32]byte
	seed[0] = n
	return rand.NewChaCha8(seed)
}

// honestSpec is testdata/lab.yaml with XX's border enforcing
// testdata/honest.yaml (a file, so the lab can bundle and log it).
func honestSpec(t *testing.T) *lab.Spec {
	t.Helper()
	spec, err := lab.Load("testdata/lab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.LoadFile("testdata/honest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec.SetPolicy("drop.yaml", p)
	return spec
}

// TestBordersCiteLoggedPolicies: a lab with a transparency log appends the
// border's policy version, has two witnesses cosign, verifies the
// inclusion proof before building the border, and every decision cites
// the version's index; a second lab on the same log finds the version
// instead of appending it again; the log verifies offline.
func TestBordersCiteLoggedPolicies(t *testing.T) {
	dir := t.TempDir()
	tr, err := lab.OpenTransparency(dir, nil, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := honestSpec(t).Start(ctx, lab.Options{Transparency: tr, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	a := l.Admission("XX")
	if a == nil || a.Index() != 0 || len(a.Verified.Cosigners) != 2 || a.Version.Name != "hosts" || a.Version.Effective.String() != "2024-01-01" {
		t.Fatalf("admission %+v", a)
	}
	m, err := l.Measure(ctx, "client", "http://www.blocked.com/")
	if err != nil {
		t.Fatal(err)
	}
	if !m.TestKeys.Verdict.Blocked() {
		t.Errorf("www.blocked.com: %s (%s)", m.TestKeys.Verdict, m.TestKeys.VerdictReason)
	}
	ds := l.Log().Decisions()
	l.Close()
	if len(ds) == 0 {
		t.Fatal("no decisions")
	}
	for _, d := range ds {
		if d.PolicyIndex == nil || *d.PolicyIndex != 0 {
			t.Errorf("decision %s %s cites %v, want index 0", d.Rule, d.Action, d.PolicyIndex)
		}
	}

	tr2, err := lab.OpenTransparency(dir, nil, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := honestSpec(t).Start(ctx, lab.Options{Transparency: tr2, NoServices: true})
	if err != nil {
		t.Fatal(err)
	}
	l2.Close()
	if got := l2.Admission("XX").Index(); got != 0 || tr2.Log.Size() != 1 {
		t.Errorf("second start: index %d, log size %d; want the version found at 0, nothing appended", got, tr2.Log.Size())
	}
	keys, err := policylog.KeysFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := policylog.VerifyDir(dir, keys); err != nil || len(rep.Cosigners) != 2 {
		t.Errorf("verify: %v %+v", err, rep)
	}
}

// TestBorderRefusesUnprovedPolicy: a border is not built, and the lab does
// not start, when its policy version has no valid inclusion proof against
// its jurisdiction's trust: a tampered proof, a checkpoint its trusted
// witness did not cosign, another log's key, a policy that is not logged
// (with no proof, or with another version's proof), a version not yet in
// force. The error names the border, the policy and why.
func TestBorderRefusesUnprovedPolicy(t *testing.T) {
	honest, err := policylog.ReadPolicyVersion("testdata/honest.yaml", "", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := policylog.ReadPolicyVersion("testdata/rogue.yaml", "", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	// logged prepares a log holding the honest version and a governance
	// step after it, cosigned by both witnesses.
	logged := func(t *testing.T) *lab.Transparency {
		tr, err := lab.OpenTransparency(t.TempDir(), nil, seeded(2))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Log.AppendPolicy(honest); err != nil {
			t.Fatal(err)
		}
		step := policylog.Governance{Proposal: "p", Forum: "f", Kind: policylog.StepFiled, Time: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)}
		if _, err := tr.Log.Append(policylog.Entry{Type: policylog.EntryGovernance, Governance: &step}); err != nil {
			t.Fatal(err)
		}
		for _, w := range tr.Witnesses {
			if err := tr.Log.Cosign(w); err != nil {
				t.Fatal(err)
			}
		}
		return tr
	}
	otherWitness, err := lab.OpenTransparency(t.TempDir(), nil, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, tr *lab.Transparency)
		want  string
	}{
		{"tampered proof", func(t *testing.T, tr *lab.Transparency) {
			p, err := tr.Log.ProveInclusion(0, tr.Log.Size())
			if err != nil {
				t.Fatal(err)
			}
			// The one hash of the proof (entry 1's leaf) follows the index.
			i := bytes.Index(p, []byte("index 0\n")) + len("index 0\n")
			p = bytes.Clone(p)
			if p[i] == 'A' {
				p[i] = 'B'
			} else {
				p[i] = 'A'
			}
			tr.Proofs = map[string][]byte{"XX": p}
		}, "entry 0 is not included in the checkpoint of size 2"},
		{"witness not trusted", func(t *testing.T, tr *lab.Transparency) {
			tr.Trust = map[string]policylog.Trust{"XX": {Log: tr.Log.VerifierKey(), Witnesses: otherWitness.Default.Witnesses[:1], Quorum: 1}}
		}, "cosigned by 0 trusted witnesses"},
		{"another log's key", func(t *testing.T, tr *lab.Transparency) {
			tr.Trust = map[string]policylog.Trust{"XX": {Log: otherWitness.Log.VerifierKey()}}
		}, "proof's checkpoint"},
		{"unlogged policy", func(t *testing.T, tr *lab.Transparency) {
			tr.Append = false
			tr.Versions = map[string]*policylog.PolicyVersion{"XX": rogue}
		}, "is not in the log log.splinter.test, and a border enforces only logged policies"},
		{"unlogged policy, another version's proof", func(t *testing.T, tr *lab.Transparency) {
			p, err := tr.Log.ProveInclusion(0, tr.Log.Size())
			if err != nil {
				t.Fatal(err)
			}
			tr.Versions = map[string]*policylog.PolicyVersion{"XX": rogue}
			tr.Proofs = map[string][]byte{"XX": p}
		}, "is not the one logged at entry 0"},
		{"not yet in force", func(t *testing.T, tr *lab.Transparency) {
			tr.Effective, _ = policylog.ParseDay("2999-01-01")
		}, "the version takes effect on 2999-01-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := logged(t)
			tc.setup(t, tr)
			l, err := honestSpec(t).Start(context.Background(), lab.Options{Transparency: tr, NoServices: true})
			if err == nil {
				l.Close()
				t.Fatal("the lab started")
			}
			var re *lab.RefusedError
			if !errors.As(err, &re) || re.Border != "XX" || !strings.Contains(err.Error(), "border of XX refuses policy hosts") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v\nwant a refusal by XX containing %q", err, tc.want)
			}
			if lab.IsInput(err) {
				t.Errorf("a refusal is not bad input: %v", err)
			}
		})
	}
}

// TestAuditFlagsUnloggedRule: a run's measurements checked against the
// logged policy. A border that enforces what it logged is clean; a border
// that logs the honest policy but enforces a name added to its list and a
// rule of its own is flagged, with the measurement it blocked, in the run
// result, the terminal summary and report.html. A run with an output
// directory and no log of its own makes one there.
func TestAuditFlagsUnloggedRule(t *testing.T) {
	if testing.Short() {
		t.Skip("two small runs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	out := t.TempDir()
	res, err := lab.Run(ctx, honestSpec(t), lab.RunOptions{Out: out, Lab: lab.Options{Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Audit == nil || !res.Audit.Clean() || res.Log != filepath.Join(out, "log") {
		t.Fatalf("honest run: audit %+v, log %q", res.Audit, res.Log)
	}
	if st, err := os.Stat(filepath.Join(out, "log", policylog.CheckpointFile)); err != nil || st.Size() == 0 {
		t.Errorf("no log in the output directory: %v", err)
	}
	dec, _ := os.ReadFile(filepath.Join(out, "decisions.jsonl"))
	if !bytes.Contains(dec, []byte(`"policy_index":0`)) {
		t.Errorf("decisions.jsonl cites no index:\n%.400s", dec)
	}

	spec := honestSpec(t)
	rogue, err := policy.LoadFile("testdata/rogue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	spec.SetPolicy("drop.yaml", rogue)
	honest, err := policylog.ReadPolicyVersion("testdata/honest.yaml", "", policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	out = t.TempDir()
	tr, err := lab.OpenTransparency(filepath.Join(out, "log"), nil, seeded(4))
	if err != nil {
		t.Fatal(err)
	}
	tr.Versions = map[string]*policylog.PolicyVersion{"XX": honest}
	res, err = lab.Run(ctx, spec, lab.RunOptions{Out: out, Lab: lab.Options{Seed: 1, Transparency: tr}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Audit
	type finding struct {
		rule   string
		reason score.UndeclaredReason
		item   string
	}
	got := map[finding]score.Undeclared{}
	for _, u := range a.Undeclared {
		got[finding{u.Rule, u.Reason, u.Item}] = u
	}
	blockedAllowed := func(u score.Undeclared) bool {
		for _, s := range u.Blocked {
			if s.Domain == "www.allowed.com" && s.Vantage == "client" && s.Verdict.Blocked() {
				return true
			}
		}
		return false
	}
	for _, want := range []finding{{"secret-rst", score.RuleNotLogged, ""}, {"sni-rst", score.ItemNotLogged, "allowed.com"}} {
		u, ok := got[want]
		if !ok || u.Border != "XX" || u.Index == nil || *u.Index != 0 || u.Decisions == 0 || !blockedAllowed(u) {
			t.Errorf("finding %+v: %+v (all: %+v)", want, u, a.Undeclared)
		}
	}
	for _, u := range a.Undeclared {
		for _, s := range u.Blocked {
			if s.Domain != "www.allowed.com" {
				t.Errorf("%s blamed for %s, which the logged policy blocks", u.Rule, s.Domain)
			}
		}
	}
	notSeen := map[string]bool{}
	for _, n := range a.NotSeen {
		notSeen[n.Rule] = true
	}
	if !notSeen["quic-drop"] || notSeen["sni-rst"] || notSeen["secret-rst"] {
		t.Errorf("declared, not seen: %+v", a.NotSeen)
	}
	var sum strings.Builder
	res.Report.WriteSummary(&sum)
	t.Logf("summary:%s", sum.String())
	html, _ := os.ReadFile(filepath.Join(out, "report.html"))
	for _, want := range []string{"UNDECLARED rule secret-rst is not in the logged version (index 0)", `rule sni-rst matched "allowed.com", which no list of the logged version (index 0) holds`, "www.allowed.com from client", "declared, not seen: quic-drop"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
	for _, want := range []string{"What the borders declared, and what they did", "undeclared: rule secret-rst is not in the logged version", "quic-drop"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
}

package governance_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/governance"
	"github.com/splinter-lab/splinter/policylog"
)

func TestLoadReportsEveryProblemWithPosition(t *testing.T) {
	src := `name: bad
actors:
  - {id: CN, kind: state}
  - {id: ngo, kind: charity, response-time: soon}
forums:
  - id: f1
    model: multilateral
    rule: unanimity
    members: [CN, XX]
  - id: f2
    model: oligarchy
    source: somewhere
proposals:
  - id: p1
    forum: f3
    by: CN
    filed: 2014-11-21T23:00:00+08:00
    comment: {closes: 2014-11-21T22:00:00+08:00}
    effective: 2014-13-01
    change: {kind: names, bloc: SCO, add: [a.example]}
    positions:
      - {actor: CN, stance: maybe}
      - {actor: US, stance: oppose, colour: red}
`
	_, err := governance.Load("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("a bad file loaded")
	}
	for _, want := range []string{
		`bad.yaml:4:45: response-time "soon" is not a duration`,
		`bad.yaml:19:16: effective "2014-13-01" is not a date`,
		`bad.yaml:23:37: unknown key "colour" in position`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// Decoding problems stop before validation; a file that decodes is
	// validated with every problem at once.
	src = strings.Replace(strings.Replace(strings.Replace(src, "response-time: soon", "response-time: 2h", 1), "2014-13-01", "2014-12-01", 1), ", colour: red", "", 1)
	_, err = governance.Load("bad.yaml", []byte(src))
	if err == nil {
		t.Fatal("a bad file loaded")
	}
	for _, want := range []string{
		`bad.yaml:3:5: actor "CN" is a state and needs a jurisdiction code`,
		`bad.yaml:4:21: actor "ngo": kind "charity" is not one of state, company`,
		`bad.yaml:6:5: forum "f1" has no source`,
		`bad.yaml:8:11: forum "f1": rule "unanimity" is not consensus or majority`,
		`bad.yaml:9:19: forum "f1": member "XX" is neither a state actor nor a bloc`,
		`bad.yaml:11:12: forum "f2": model "oligarchy" is not sovereign, multilateral or multistakeholder`,
		`bad.yaml:15:12: proposal "p1": forum "f3" is not declared (declared: f1, f2)`,
		`proposal "p1": the comment window closes (2014-11-21T14:00Z) before it opens (2014-11-21T15:00Z)`,
		`proposal "p1": bloc "SCO" is not declared`,
		`proposal "p1": a names change says which list`,
		`bad.yaml:22:29: proposal "p1": stance "maybe" is not support, oppose or abstain`,
		`bad.yaml:23:9: proposal "p1": "US" is not an actor`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := governance.Open("atlantis"); err == nil || !strings.Contains(err.Error(), "neither an embedded scenario") {
		t.Errorf("Open(atlantis) = %v", err)
	}
	f, _ := governance.Open("wuzhen-2014")
	if _, err := governance.Replay(f, "nowhere"); err == nil || !strings.Contains(err.Error(), `no forum "nowhere"`) {
		t.Errorf("Replay with an unknown forum: %v", err)
	}
}

// TestRules exercises the rules the shipped scenarios do not reach: rough
// consensus, a council vote across houses, a majority without quorum.
func TestRules(t *testing.T) {
	base := `name: rules
actors:
  - {id: A, kind: state, jurisdiction: AA}
  - {id: B, kind: state, jurisdiction: BB}
  - {id: C, kind: state, jurisdiction: CC, response-time: 3d}
  - {id: reg, kind: company}
  - {id: reg2, kind: company}
  - {id: ngo, kind: civil-society}
forums:
  - {id: ietf, model: multistakeholder, source: "RFC 7282", rule: rough-consensus, adopt-at: rough-consensus,
     houses: [{id: h1, members: [A, B, C]}, {id: h2, members: [reg, reg2, ngo]}], supermajority: 2/3, supermajority-one-house: 3/4}
  - {id: itu, model: multilateral, source: "ITU", rule: majority, majority: 50%, quorum: 90%, members: [A, B, C]}
proposals:
  - id: p
    forum: ietf
    by: A
    filed: 2020-01-01T00:00:00Z
    comment: {closes: 2020-01-02T00:00:00Z}
    effective: 2020-01-01
    change: {kind: names, jurisdiction: AA, list: names, add: [x.example]}
    positions:
      - {actor: A, stance: support}
      - {actor: B, stance: support}
      - {actor: C, stance: support}
      - {actor: reg, stance: support}
      - {actor: reg2, stance: support}
      - {actor: ngo, stance: oppose, objection: "breaks things", addressed: ADDRESSED}
`
	for _, tc := range []struct {
		name, addressed, forum string
		decision               governance.Decision
		rule                   string
	}{
		{"rough consensus, objection addressed", "true", "ietf", governance.Adopted, "council supermajority across houses"},
		{"objection not addressed", "false", "ietf", governance.Rejected, "consensus designation: no-consensus"},
		{"majority without quorum", "true", "itu", governance.Rejected, "majority vote: no quorum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := governance.Load("rules.yaml", []byte(strings.Replace(base, "ADDRESSED", tc.addressed, 1)))
			if err != nil {
				t.Fatal(err)
			}
			outs, err := governance.Replay(f, tc.forum)
			if err != nil {
				t.Fatal(err)
			}
			o := outs[0]
			if o.Decision != tc.decision || o.Rule != tc.rule {
				t.Errorf("%s by %q, want %s by %q (%s)", o.Decision, o.Rule, tc.decision, tc.rule, o.Explanation)
			}
			if o.Decision == governance.Adopted {
				// Decided on 2020-01-02, meant for 2020-01-01: effective the
				// day after the decision.
				if o.Effective.String() != "2020-01-03" || len(o.Changes) != 1 || o.Changes[0].Jurisdiction != "AA" {
					t.Errorf("effective %s, changes %+v", o.Effective, o.Changes)
				}
			}
		})
	}
}

// TestEntriesInTheLog appends a replay's steps and outcome to a policy log
// and verifies it.
func TestEntriesInTheLog(t *testing.T) {
	f, err := governance.Open("wuzhen-2014")
	if err != nil {
		t.Fatal(err)
	}
	outs, err := governance.Replay(f, "")
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := policylog.GenerateKey(strings.NewReader(strings.Repeat("k", 64)), "policylog.splinter.test")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "log")
	l, err := policylog.Create(dir, skey)
	if err != nil {
		t.Fatal(err)
	}
	es := outs[0].Entries()
	if _, err := l.Append(es...); err != nil {
		t.Fatal(err)
	}
	last, _, err := l.Entry(l.Size() - 1)
	if err != nil {
		t.Fatal(err)
	}
	g := last.Governance
	if g.Kind != policylog.StepOutcome || g.Decision != "adopted" || g.Rule != "consensus: no objection registered" || !g.Time.Equal(time.Date(2014, 11, 22, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("outcome entry %+v", g)
	}
	keys, _ := policylog.KeysFromDir(dir)
	if _, err := policylog.VerifyDir(dir, keys); err != nil {
		t.Fatal(err)
	}
}

package policy_test

import (
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
)

// The language's examples and golden errors use the built-in matcher and
// action kinds, which package border defines and registers (importing it
// registers them for every test of this package).

// TestGoPolicy validates a policy built in Go: no positions, the paths
// still say where each problem is; list files come from an fs.FS.
func TestGoPolicy(t *testing.T) {
	fsys := fstest.MapFS{"profiles/lists/n.txt": {Data: []byte("a.com\nb..com\n")}}
	p := &policy.Policy{
		Name: "go",
		Lists: map[string]*policy.List{
			"n": {Name: "n", Kind: policy.Domains, From: []policy.ListSource{{File: "lists/n.txt"}}},
		},
		Rules: []policy.Rule{{
			ID: "r", Source: "test", Year: 2024,
			Scope:   policy.Scope{Probability: policy.P(0.5)},
			Match:   []policy.Matcher{&border.TLSSNIMatch{List: "n"}, border.DefaultFullyEncrypted()},
			Actions: []policy.Action{&border.RSTAction{To: policy.ToBoth, SeqOffsets: []uint32{0, 1460, 4380}}, &border.ResidualAction{Tuple: 3, Duration: 90 * time.Second}},
		}, {
			ID: "r", Source: "test", Year: 2024,
			Match:   []policy.Matcher{&border.TLSSNIMatch{List: "missing"}, nil},
			Actions: []policy.Action{&border.ThrottleAction{}},
		}},
	}
	err := p.ReadFiles(fsys, "profiles")
	if err != nil {
		t.Fatal(err)
	}
	want := `profiles/lists/n.txt:2: lists.n.items: bad domain "b..com": empty or over-long label
policy: rules[1].id: id "r" is already used by rules[0]
policy: rules[1].match[0].tls-sni.list: no list named "missing" (lists: n)
policy: rules[1].match[1]: matcher is nil
policy: rules[1].actions[0].throttle.rate: throttle needs a positive rate`
	if err := p.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate:\n%v\nwant:\n%s", err, want)
	}
	p.Lists["n"].Items = p.Lists["n"].Items[:1]
	p.Rules = p.Rules[:1]
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := p.Rules[0].Actions[0].(*border.RSTAction).N(); got != 3 {
		t.Errorf("RSTAction.N() = %d, want 3", got)
	}
	if policy.Prob(p.Rules[0].Scope.Probability) != 0.5 || policy.Prob(nil) != 1 {
		t.Error("Prob")
	}
}

func names(ks []policy.KindInfo) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.Name)
	}
	return out
}

func TestRegistry(t *testing.T) {
	want := []string{"any", "app-protocol", "dns", "ech", "esni", "fully-encrypted", "http", "ip", "not", "packet-count", "payload-size", "port", "protocol", "protocol-allowlist", "quic-ech", "quic-initial", "quic-sni", "sticky-sample", "tcp-flags", "tls-hello", "tls-sni"}
	if got := names(policy.MatcherKinds()); !slices.Equal(got, want) {
		t.Errorf("matcher kinds %q, want %q", got, want)
	}
	want = []string{"active-probe", "blockpage", "delay", "dns-inject", "drop", "freeze", "intercept", "null-route", "pair-block", "residual", "rst", "terminate", "throttle"}
	if got := names(policy.ActionKinds()); !slices.Equal(got, want) {
		t.Errorf("action kinds %q, want %q", got, want)
	}
	for _, k := range append(policy.MatcherKinds(), policy.ActionKinds()...) {
		if k.Doc == "" {
			t.Errorf("kind %q has no doc", k.Name)
		}
	}
	m, _ := policy.NewMatcher("fully-encrypted")
	if fe := m.(*border.FullyEncryptedMatch); *fe != *border.DefaultFullyEncrypted() {
		t.Errorf("fully-encrypted defaults %+v", fe)
	}
	defer func() {
		if recover() == nil {
			t.Error("registering a kind twice did not panic")
		}
	}()
	policy.RegisterMatcher("any", "again", func() policy.Matcher { return &border.AnyMatch{} })
}

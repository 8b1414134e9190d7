package strategy_test

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/splinter-lab/splinter/strategy"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

type ccs19Row struct {
	name, dna, china, india string
}

// readCCS19 reads testdata/geneva-ccs19.tsv, Table 1 of the CCS 2019 paper.
func readCCS19(t testing.TB) []ccs19Row {
	t.Helper()
	b, err := os.ReadFile("testdata/geneva-ccs19.tsv")
	if err != nil {
		t.Fatal(err)
	}
	var rows []ccs19Row
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("bad row %q", line)
		}
		rows = append(rows, ccs19Row{f[0], f[1], f[2], f[3]})
	}
	return rows
}

// TestCCS19CopyMatchesShared checks the copy in testdata against the
// conformance file of the shared folder, where it is present.
func TestCCS19CopyMatchesShared(t *testing.T) {
	b, err := os.ReadFile("../../shared/conformance/geneva-ccs19.md")
	if err != nil {
		t.Skip("shared/conformance not beside the repository:", err)
	}
	md := strings.ReplaceAll(string(b), `\|`, "|")
	for _, r := range readCCS19(t) {
		if !strings.Contains(md, "`"+r.dna+"`") {
			t.Errorf("%s: %s not in geneva-ccs19.md", r.name, r.dna)
		}
	}
}

func roundTrip(t testing.TB, dna string) *strategy.Strategy {
	t.Helper()
	s, err := strategy.Parse(dna)
	if err != nil {
		t.Fatalf("Parse(%q): %v", dna, err)
	}
	canon := s.String()
	s2, err := strategy.Parse(canon)
	if err != nil {
		t.Fatalf("Parse(String()) of %q = %q: %v", dna, canon, err)
	}
	if !reflect.DeepEqual(s, s2) {
		t.Fatalf("round trip of %q through %q changed it", dna, canon)
	}
	if s2.String() != canon {
		t.Fatalf("String not stable: %q then %q", canon, s2.String())
	}
	return s
}

func TestParseCCS19(t *testing.T) {
	rows := readCCS19(t)
	if len(rows) != 37 {
		t.Fatalf("%d rows, want Table 1's 37", len(rows))
	}
	for _, r := range rows {
		s := roundTrip(t, r.dna)
		if r.dna != `\/` && len(s.Outbound) == 0 {
			t.Errorf("%s: no outbound tree", r.name)
		}
	}
}

func TestParseCanonical(t *testing.T) {
	for _, tc := range []struct{ in, canon string }{
		{``, `\/`},
		{`\/`, `\/`},
		{`  [TCP:flags:PA]-drop-|  `, `[TCP:flags:PA]-drop-| \/`},
		{`[TCP:flags:PA]-drop|`, `[TCP:flags:PA]-drop-| \/`},
		{`[TCP:flags:S]-|`, `[TCP:flags:S]-| \/`},
		{`[TCP:flags:S]-send-|`, `[TCP:flags:S]-send-| \/`},
		{`[TCP:flags:S]-duplicate(send,send)-|`, `[TCP:flags:S]-duplicate-| \/`},
		{`[TCP:flags:S]-duplicate(,)-|`, `[TCP:flags:S]-duplicate-| \/`},
		{`[TCP:flags:S]-drop(,)-|`, `[TCP:flags:S]-drop-| \/`},
		{`[TCP:dport:080:+2]-tamper{TCP:seq:add:+5}-|`, `[TCP:dport:80:2]-tamper{TCP:seq:add:5}-| \/`},
		{`[IP:src:198.18.*:-3]-tamper{TCP:chksum:corrupt:7}-|`, `[IP:src:198.18.*:-3]-tamper{TCP:chksum:corrupt}-| \/`},
		{`[TCP:flags:A]-sleep-|`, `[TCP:flags:A]-sleep{1}-| \/`},
		{`[TCP:flags:A]-sleep{}-|`, `[TCP:flags:A]-sleep{1}-| \/`},
		{`[TCP:flags:A]-sleep{0.50}(tamper{IP:ttl:replace:3},)-|`, `[TCP:flags:A]-sleep{0.5}(tamper{IP:ttl:replace:3},)-| \/`},
		{`[TCP:flags:PA]-fragment{tcp:-1:True:0}-|`, `[TCP:flags:PA]-fragment{tcp:-1:True}-| \/`},
		{`[TCP:flags:PA]-fragment{ip:2:False:3}(,drop)-|`, `[TCP:flags:PA]-fragment{ip:2:False:3}(,drop)-| \/`},
		{`[TCP:flags:PA]-drop-|[TCP:flags:A]-drop-|\/[TCP:flags:R]-drop-|`, `[TCP:flags:PA]-drop-| [TCP:flags:A]-drop-| \/ [TCP:flags:R]-drop-|`},
		{"\\/\t[TCP:flags:SA]-tamper{TCP:options-mss:replace:}-|\n", `\/ [TCP:flags:SA]-tamper{TCP:options-mss:replace:}-|`},
		{`[TCP:load:GET%20/*]-tamper{TCP:load:replace:__HTTP_REQUEST__}-|`, `[TCP:load:GET%20/*]-tamper{TCP:load:replace:__HTTP_REQUEST__}-| \/`},
		{`[TCP:flags:P*]-tamper{TCP:load:replace:007}-|`, `[TCP:flags:P*]-tamper{TCP:load:replace:007}-| \/`},
	} {
		s := roundTrip(t, tc.in)
		if got := s.String(); got != tc.canon {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, got, tc.canon)
		}
	}
}

// TestParseTree checks the structure Parse builds for one strategy of each
// action.
func TestParseTree(t *testing.T) {
	s := strategy.MustParse(`[TCP:flags:PA:3]-duplicate(tamper{TCP:options-wscale:corrupt}(tamper{TCP:dataofs:replace:8},),fragment{tcp:-1:False:4})-| \/ [IP:ttl:64]-drop-|`)
	want := &strategy.Strategy{
		Outbound: []strategy.Tree{{
			Trigger: strategy.Trigger{Field: strategy.TCPFlags, Value: strategy.Value{Text: "PA"}, HasGas: true, Gas: 3},
			Root: &strategy.Action{Kind: strategy.Duplicate,
				Left: &strategy.Action{Kind: strategy.Tamper, Field: strategy.TCPOptWScale, Mode: strategy.Corrupt,
					Left: &strategy.Action{Kind: strategy.Tamper, Field: strategy.TCPDataofs, Mode: strategy.Replace, Value: strategy.NumValue(8)}},
				Right: &strategy.Action{Kind: strategy.Fragment, Segment: true, Size: -1, Overlap: 4},
			},
		}},
		Inbound: []strategy.Tree{{
			Trigger: strategy.Trigger{Field: strategy.IPTTL, Value: strategy.NumValue(64)},
			Root:    &strategy.Action{Kind: strategy.Drop},
		}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %s\nwant %s", s, want)
	}
}

// TestParseErrors compares Parse's errors with testdata/errors.golden,
// which holds each input ("dna: ...") and its error ("err: ..."); -update
// rewrites the errors.
func TestParseErrors(t *testing.T) {
	const path = "testdata/errors.golden"
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(f)
	var dna string
	n := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "dna: "):
			dna = strings.TrimPrefix(line, "dna: ")
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "err: "):
			n++
			_, err := strategy.Parse(dna)
			got := "ok"
			var se *strategy.SyntaxError
			if errors.As(err, &se) {
				got = se.Error()
				if se.Offset < 0 || se.Offset > len(dna) || se.Column != utf8.RuneCountInString(dna[:se.Offset])+1 {
					t.Errorf("%q: bad position %d, column %d", dna, se.Offset, se.Column)
				}
				if len(se.Token) > 45 {
					t.Errorf("%q: token %q quotes too much", dna, se.Token)
				}
			} else if err != nil {
				t.Errorf("%q: error %T is not a *SyntaxError", dna, err)
			}
			out.WriteString("err: " + got + "\n")
			if want := strings.TrimPrefix(line, "err: "); !*update && got != want {
				t.Errorf("Parse(%q)\n got %s\nwant %s", dna, got, want)
			}
		default:
			out.WriteString(line + "\n")
		}
	}
	f.Close()
	if n < 30 {
		t.Fatalf("only %d cases", n)
	}
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseDeepNesting(t *testing.T) {
	dna := "[TCP:flags:A]-" + strings.Repeat("duplicate(", 10000) + strings.Repeat(",)", 10000) + "-|"
	_, err := strategy.Parse(dna)
	var se *strategy.SyntaxError
	if !errors.As(err, &se) || !strings.Contains(se.Expected, "nested") {
		t.Fatalf("got %v", err)
	}
	ok := "[TCP:flags:A]-" + strings.Repeat("duplicate(", 60) + strings.Repeat(",)", 60) + "-|"
	roundTrip(t, ok)
}

// FuzzParse: Parse never panics, and what it accepts prints canonically
// and parses back to the same strategy.
func FuzzParse(f *testing.F) {
	for _, r := range readCCS19(f) {
		f.Add(r.dna)
	}
	for _, v := range readVectorDNA(f) {
		f.Add(v)
	}
	b, err := os.ReadFile("testdata/errors.golden")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "dna: ") {
			f.Add(strings.TrimPrefix(line, "dna: "))
		}
	}
	f.Fuzz(func(t *testing.T, dna string) {
		s, err := strategy.Parse(dna)
		if err != nil {
			var se *strategy.SyntaxError
			if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(dna) {
				t.Fatalf("Parse(%q): %#v", dna, err)
			}
			return
		}
		roundTrip(t, dna)
		_ = s
	})
}

// readVectorDNA returns the strategies of testdata/geneva-vectors.txt.
func readVectorDNA(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/geneva-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "strategy ") {
			out = append(out, strings.TrimPrefix(line, "strategy "))
		}
	}
	return out
}

func TestParseVectorStrategies(t *testing.T) {
	for _, dna := range readVectorDNA(t) {
		roundTrip(t, dna)
	}
}

package probe_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
)

// A golden case, in the style of OONI's QA scenarios: one censor rule, one
// input URL, the verdict expected and the test keys that must show it.
type golden struct {
	name string
	// rules is the policy's rules section (YAML); {{v4}} and {{v6}} stand
	// for the target site's addresses.
	rules string
	input string
	want  probe.Verdict
	// truth is the verdict the border's decisions imply (score.Truth),
	// when it is not want: a site down or a name that exists nowhere is
	// no border's doing, so its truth is accessible.
	truth probe.Verdict
	// check looks at the test keys.
	check func(t *testing.T, tk *probe.TestKeys)
}

const target = "www.target-news.com"

var goldens = []golden{
	{
		name: "accessible",
		rules: strings.Replace(ruleHead("other"), target, "www.elsewhere.com", 1) + `match: [{tls-sni: {list: other}}]
    actions: [{rst: {to: both}}]`,
		input: "http://" + target + "/",
		want:  probe.Accessible,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingNone)
			if tk.DNSConsistency == nil || *tk.DNSConsistency != "consistent" || tk.StatusCodeMatch == nil || !*tk.StatusCodeMatch || tk.BodyLengthMatch == nil || !*tk.BodyLengthMatch {
				t.Errorf("dns_consistency %v status_code_match %v body_length_match %v", deref(tk.DNSConsistency), tk.StatusCodeMatch, tk.BodyLengthMatch)
			}
		},
	},
	{
		name: "dns",
		rules: ruleHead("names") + `scope: {protocols: [udp], ports: [53]}
    match: [{dns: {list: names}}]
    actions: [{dns-inject: {injectors: [{name: inj, answer: {addrs: [10.10.34.34, "d0::11"]}}]}}]`,
		input: "http://" + target + "/",
		want:  probe.DNS,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingDNS)
			wantFailure(t, "dns_experiment_failure", tk.DNSExperimentFailure, probe.FailureDNSBogon)
			if tk.DNSConsistency == nil || *tk.DNSConsistency != "inconsistent" {
				t.Errorf("dns_consistency = %v, want inconsistent", deref(tk.DNSConsistency))
			}
		},
	},
	{
		name: "tcp_ip",
		rules: `  site: {kind: prefixes, items: ["{{v4}}/32", "{{v6}}/128"]}
rules:
  - id: r
    source: golden test
    year: 2024
    match: [{ip: {list: site, side: dst}}, {protocol: {protocols: [tcp, udp]}}]
    actions: [{drop: {}}]`,
		input: "http://" + target + "/",
		want:  probe.TCPIP,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingTCPIP)
			wantRetried(t, tk, probe.TimeoutTCPConnect)
			for _, c := range tk.TCPConnect {
				wantFailure(t, "tcp_connect", c.Status.Failure, probe.FailureTimeout)
				if !c.Retried {
					t.Errorf("tcp_connect %v: not tried again", c.IP)
				}
				if c.Status.Blocked == nil || !*c.Status.Blocked {
					t.Errorf("tcp_connect %v: blocked = %v", c.IP, c.Status.Blocked)
				}
			}
		},
	},
	{
		name: "http-failure",
		rules: ruleHead("names") + `scope: {protocols: [tcp]}
    match: [{http: {list: names}}]
    actions: [{rst: {to: both, flags: rst-ack}}]`,
		input: "http://" + target + "/",
		want:  probe.HTTPFailure,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingHTTPFailure)
			wantFailure(t, "http_experiment_failure", tk.HTTPExperimentFailure, probe.FailureConnectionReset)
		},
	},
	{
		name: "http-diff",
		rules: ruleHead("names") + `scope: {protocols: [tcp]}
    match: [{http: {list: names}}]
    actions: [{blockpage: {status: 200, body: "<html><title>Access denied</title>blocked</html>", flags: fin-psh-ack}}]`,
		input: "http://" + target + "/",
		want:  probe.HTTPDiff,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingHTTPDiff)
			if tk.HTTPExperimentFailure != nil || tk.BodyLengthMatch == nil || *tk.BodyLengthMatch || *tk.TitleMatch {
				t.Errorf("http_experiment_failure %v body_length_match %v title_match %v", deref(tk.HTTPExperimentFailure), tk.BodyLengthMatch, tk.TitleMatch)
			}
		},
	},
	{
		name: "tls",
		rules: ruleHead("names") + `scope: {protocols: [tcp]}
    match: [{tls-sni: {list: names}}]
    actions: [{rst: {to: both, flags: rst-ack}}]`,
		input: "http://" + target + "/",
		want:  probe.TLS,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingHTTPFailure)
			for _, h := range tk.TLSHandshakes {
				wantFailure(t, "tls_handshakes", h.Failure, probe.FailureConnectionReset)
			}
		},
	},
	{
		name: "quic",
		rules: ruleHead("names") + `scope: {protocols: [udp], ports: ["443"]}
    match: [{quic-sni: {list: names}}]
    actions: [{drop: {flow: true}}]`,
		input: "http://" + target + "/",
		want:  probe.QUIC,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingHTTPFailure)
			wantRetried(t, tk, probe.TimeoutQUIC)
			if len(tk.QUICHandshakes) == 0 {
				t.Fatal("no QUIC handshake")
			}
			wantFailure(t, "x_quic_handshakes", tk.QUICHandshakes[0].Failure, probe.FailureTimeout)
		},
	},
	{
		name: "throttled",
		rules: ruleHead("names") + `inspect: {packets: first}
    match: [{tls-sni: {list: names}}]
    actions: [{throttle: {rate: 150kbit, burst: 16KiB}}]`,
		input: "http://" + target + "/",
		want:  probe.Throttled,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingNone)
			wantRetried(t, tk, probe.TimeoutThroughput)
			if tk.Throughput == nil || len(tk.Throughput.Baselines) == 0 || !tk.Throughput.Throttled || tk.Throughput.Pairs < 2 {
				t.Errorf("x_throughput = %+v", tk.Throughput)
			}
		},
	},
	{
		// Russia's freeze of hosting ranges (shared/censors.md: "connections
		// stall after about 16 KB"): the page and the handshakes fit, every
		// download stops after 16-20 KB, with SNI and without.
		name: "frozen address",
		rules: `  site: {kind: prefixes, items: ["{{v4}}/32", "{{v6}}/128"]}
rules:
  - id: r
    source: golden test
    year: 2025
    scope: {protocols: [tcp], destinations: {list: site}}
    inspect: {packets: first}
    match: [any]
    actions: [{freeze: {after: 16KiB, after-max: 20KiB, direction: server-to-client}}]`,
		input: "http://" + target + "/",
		want:  probe.TCPIP,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingTCPIP)
			if tk.Throughput == nil || tk.Throughput.Stalled != probe.StalledAll || tk.Throughput.Throttled || tk.Throughput.Inconclusive {
				t.Errorf("x_throughput = %+v", tk.Throughput)
			}
		},
	},
	{
		// Russia's mobile allowlists (shared/censors.md: "the SYN passes but
		// the ClientHello does not"): every request to the address fails
		// once it carries data, a benign one before the measurement's too.
		name: "address dropped once data flows",
		rules: `  site: {kind: prefixes, items: ["{{v4}}/32", "{{v6}}/128"]}
rules:
  - id: r
    source: golden test
    year: 2025
    scope: {protocols: [tcp], destinations: {list: site}}
    match: [{payload-size: {min: 1}}]
    actions: [{drop: {flow: true, direction: both}}]`,
		input: "http://" + target + "/",
		want:  probe.TCPIP,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingTCPIP)
			if r := tk.Residual; r == nil || !r.Blocked || r.Before == nil || !r.BeforeAddress.IsValid() {
				t.Errorf("x_residual = %+v", tk.Residual)
			}
		},
	},
	{
		name: "residual",
		rules: ruleHead("names") + `scope: {protocols: [tcp]}
    match: [{tls-sni: {list: names}}]
    actions:
      - rst: {to: both, flags: rst-ack}
      - residual: {tuple: 3, duration: 90s, enforce: drop}`,
		input: "http://" + target + "/",
		want:  probe.Residual,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingHTTPFailure)
			if tk.Residual == nil || !tk.Residual.Blocked || tk.Residual.Protocol != "tls" {
				t.Fatalf("x_residual = %+v", tk.Residual)
			}
			wantFailure(t, "x_residual.immediate_failure", tk.Residual.Immediate, probe.FailureTimeout)
			if !tk.Residual.BeforeAddress.IsValid() || tk.Residual.Before != nil {
				t.Errorf("x_residual: the benign request before the trigger: %v %v, want answered", tk.Residual.BeforeAddress, deref(tk.Residual.Before))
			}
		},
	},
}

// noRule is a policy that blocks another name only.
var noRule = strings.Replace(ruleHead("other"), target, "www.elsewhere.com", 1) + `match: [{tls-sni: {list: other}}]
    actions: [{rst: {to: both}}]`

// The verdict fixes of issue 11, each with the case that showed it.
var fixGoldens = []golden{
	{
		// An IP-literal URL skips DNS (ts-017): it was "dns" from every
		// vantage, the probe looking the address up as a name.
		name:  "ip-literal-https",
		rules: noRule,
		input: "https://{{v4}}/",
		want:  probe.Accessible,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingNone)
			if len(tk.Queries) != 0 || tk.DNSExperimentFailure != nil || deref(tk.DNSConsistency) != "consistent" {
				t.Errorf("queries %d, dns_experiment_failure %s, dns_consistency %s: want no lookup, consistent", len(tk.Queries), deref(tk.DNSExperimentFailure), deref(tk.DNSConsistency))
			}
			if tk.Control.DNS.Failure != nil || len(tk.Control.DNS.Addrs) != 0 {
				t.Errorf("control dns = %+v, want no lookup", tk.Control.DNS)
			}
			if len(tk.TLSHandshakes) != 1 || tk.TLSHandshakes[0].Failure != nil {
				t.Errorf("tls_handshakes = %+v, want one that succeeded", tk.TLSHandshakes)
			}
		},
	},
	{
		name:  "ip-literal-http",
		rules: noRule,
		input: "http://{{v4}}/",
		want:  probe.Accessible,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingNone)
			if len(tk.Queries) != 0 || deref(tk.DNSConsistency) != "consistent" {
				t.Errorf("queries %d, dns_consistency %s", len(tk.Queries), deref(tk.DNSConsistency))
			}
		},
	},
	{
		// An IP literal whose address is blocked is still tcp_ip: skipping
		// DNS leaves the address consistent.
		name: "ip-literal-tcp_ip",
		rules: `  site: {kind: prefixes, items: ["{{v4}}/32"]}
rules:
  - id: r
    source: golden test
    year: 2024
    match: [{ip: {list: site, side: dst}}, {protocol: {protocols: [tcp, udp]}}]
    actions: [{drop: {}}]`,
		input: "http://{{v4}}/",
		want:  probe.TCPIP,
		check: func(t *testing.T, tk *probe.TestKeys) { wantBlocking(t, tk, probe.BlockingTCPIP) },
	},
	{
		// A site down for the control too is down: OONI's expected
		// failure (blocking false, accessible false), not accessible.
		name:  "down",
		rules: noRule,
		input: "http://" + target + ":8080/",
		want:  probe.Down,
		truth: probe.Accessible,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingNone)
			if tk.Accessible == nil || *tk.Accessible {
				t.Errorf("accessible = %v, want false", tk.Accessible)
			}
			wantFailure(t, "http_experiment_failure", tk.HTTPExperimentFailure, probe.FailureConnectionRefused)
			wantFailure(t, "control.http_request", tk.Control.HTTPRequest.Failure, probe.ControlFailureConnectionRefused)
			if len(tk.TLSHandshakes) != 0 {
				t.Errorf("%d TLS handshakes for an http:// URL with a port (ts-017 E001: none)", len(tk.TLSHandshakes))
			}
			if len(tk.Methods) != 0 {
				t.Errorf("x_methods = %v, want none", tk.Methods)
			}
		},
	},
	{
		// A blocking method seen beside a site that is down still wins.
		name: "dns-before-down",
		rules: ruleHead("names") + `scope: {protocols: [udp], ports: [53]}
    match: [{dns: {list: names}}]
    actions: [{dns-inject: {injectors: [{name: inj, answer: {addrs: [10.10.34.34, "d0::11"]}}]}}]`,
		input: "http://" + target + ":8080/",
		want:  probe.DNS,
		check: func(t *testing.T, tk *probe.TestKeys) { wantBlocking(t, tk, probe.BlockingDNS) },
	},
	{
		// A name no resolver knows is its own verdict, not accessible.
		name:  "nonexistent",
		rules: noRule,
		input: "http://www.nowhere-at-all.com/",
		want:  probe.NonExistent,
		truth: probe.Accessible,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingNone)
			if tk.Accessible == nil || *tk.Accessible {
				t.Errorf("accessible = %v, want false", tk.Accessible)
			}
			wantFailure(t, "dns_experiment_failure", tk.DNSExperimentFailure, probe.FailureDNSNXDomain)
			wantFailure(t, "control.dns", tk.Control.DNS.Failure, probe.ControlFailureDNSNameError)
			if deref(tk.DNSConsistency) != "consistent" {
				t.Errorf("dns_consistency = %s", deref(tk.DNSConsistency))
			}
		},
	},
	{
		// An https:// URL whose handshake is reset by SNI is "tls", as its
		// http:// form is (the "tls" case): the fetch failed in its TLS
		// handshake, which the control's succeeded. It was http-failure.
		name: "tls-https",
		rules: ruleHead("names") + `scope: {protocols: [tcp]}
    match: [{tls-sni: {list: names}}]
    actions: [{rst: {to: both, flags: rst-ack}}]`,
		input: "https://" + target + "/",
		want:  probe.TLS,
		check: func(t *testing.T, tk *probe.TestKeys) {
			wantBlocking(t, tk, probe.BlockingHTTPFailure)
			wantFailure(t, "http_experiment_failure", tk.HTTPExperimentFailure, probe.FailureConnectionReset)
			if len(tk.Requests) == 0 || tk.Requests[0].FailedOperation != "tls_handshake" {
				t.Errorf("requests = %+v, want one failed at tls_handshake", tk.Requests)
			}
			if slices.Contains(tk.Methods, probe.HTTPFailure) {
				t.Errorf("x_methods = %v: the fetch's TLS failure is not an HTTP failure", tk.Methods)
			}
		},
	},
}

func ruleHead(list string) string {
	return `  ` + list + `: {kind: domains, items: [` + target + `]}
rules:
  - id: r
    source: golden test
    year: 2024
    `
}

func wantBlocking(t *testing.T, tk *probe.TestKeys, b probe.Blocking) {
	t.Helper()
	if tk.Blocking != b {
		t.Errorf("blocking = %q, want %q", tk.Blocking, b)
	}
}

// wantRetried checks that a verdict resting on a timeout was measured
// again, the first attempt seeing the same, and still rests on it.
func wantRetried(t *testing.T, tk *probe.TestKeys, basis probe.TimeoutBasis) {
	t.Helper()
	if tk.Timeout != basis || len(tk.Attempts) != 1 || tk.Attempts[0].Verdict != tk.Verdict || tk.Attempts[0].Timeout != basis {
		t.Errorf("x_timeout %q, x_attempts %+v: want %s, one earlier attempt with the same verdict", tk.Timeout, tk.Attempts, basis)
	}
}

func wantFailure(t *testing.T, key string, got *string, want string) {
	t.Helper()
	if got == nil || *got != want {
		t.Errorf("%s failure = %s, want %s", key, deref(got), want)
	}
}

func deref(s *string) string {
	if s == nil {
		return "null"
	}
	return *s
}

// testLab is a running lab world with a control and a prober on
// xx-client-1, started through package lab as the command line starts one.
type testLab struct {
	*lab.Lab
	p  *probe.Prober
	sc *scenario.Scenario
}

func startLab(t testing.TB, policyYAML string, opts ...func(*probe.Config)) *testLab {
	t.Helper()
	sc, err := scenario.Open(filepath.Join("testdata", "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pol *policy.Policy // nil leaves XX's border open
	if policyYAML != "" {
		if pol, err = policy.Load("case.yaml", []byte(policyYAML), nil, "."); err != nil {
			t.Fatalf("policy: %v\n%s", err, policyYAML)
		}
	}
	spec, err := lab.FromScenario(sc, lab.Resolve{Policies: map[string]*policy.Policy{"case": pol}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := spec.Start(context.Background(), lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	p, err := l.Prober("xx-client-1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &testLab{Lab: l, p: p, sc: sc}
}

func policyFor(t *testing.T, g golden) string {
	sc, err := scenario.Open(filepath.Join("testdata", "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	var v4, v6 string
	for _, s := range plan.Sites {
		if s.Domain == target {
			v4, v6 = s.Addrs[0].String(), s.Addrs[1].String()
		}
	}
	body := g.rules
	if !strings.HasPrefix(body, "  ") {
		body = "  " + body
	}
	body = strings.NewReplacer("{{v4}}", v4, "{{v6}}", v6).Replace(body)
	return "name: case\nlists:\n" + body + "\n"
}

// inputFor is g's input with the target's addresses in place of {{v4}}
// and {{v6}}.
func inputFor(t *testing.T, g golden) string {
	sc, err := scenario.Open(filepath.Join("testdata", "lab.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range plan.Sites {
		if s.Domain == target {
			return strings.NewReplacer("{{v4}}", s.Addrs[0].String(), "{{v6}}", "["+s.Addrs[1].String()+"]").Replace(g.input)
		}
	}
	t.Fatal("no target site")
	return ""
}

// TestGolden runs every golden case through the public API: a world whose
// border applies one rule, web_connectivity from inside, the verdict and
// its test keys, the OONI format, and the score against the border's
// decisions.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, g := range append(slices.Clone(goldens), fixGoldens...) {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			l := startLab(t, policyFor(t, g))
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			m := l.p.WebConnectivity(ctx, inputFor(t, g), "test")
			tk := m.TestKeys
			if tk.Verdict != g.want {
				t.Errorf("verdict = %s (%s), want %s", tk.Verdict, tk.VerdictReason, g.want)
			}
			g.check(t, tk)
			line, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := ValidateOONI(line); err != nil {
				t.Errorf("OONI format: %v", err)
			}
			res := score.Score([]*probe.Measurement{m}, l.Log().Decisions())
			truth := g.truth
			if truth == "" {
				truth = g.want
			}
			if res.Items[0].Truth != truth {
				t.Errorf("ground truth = %s, want %s; decisions:\n%s", res.Items[0].Truth, truth, describe(res.Items[0]))
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("reason: %s\n%s", tk.VerdictReason, describe(res.Items[0]))
			}
		})
	}
}

func describe(it score.Item) string {
	var b strings.Builder
	for _, d := range it.Decisions {
		fmt.Fprintf(&b, "  %s\n", score.Describe(d))
	}
	return b.String()
}

// The df-000 base keys every measurement must carry, with their JSON types.
var baseKeys = map[string]string{
	"annotations": "object", "data_format_version": "string", "input": "string",
	"measurement_start_time": "string", "probe_asn": "string", "probe_cc": "string",
	"probe_ip": "string", "report_id": "string", "resolver_asn": "string", "resolver_ip": "string",
	"software_name": "string", "software_version": "string", "test_keys": "object",
	"test_name": "string", "test_runtime": "number", "test_start_time": "string", "test_version": "string",
}

// ValidateOONI checks one measurement line: df-000's base keys and their
// types and formats, web_connectivity's test keys, and that every failure
// string anywhere in it is one of df-007's.
func ValidateOONI(line []byte) error {
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		return err
	}
	for k, typ := range baseKeys {
		v, ok := m[k]
		if !ok {
			return fmt.Errorf("missing base key %q", k)
		}
		if got := jsonType(v); got != typ {
			return fmt.Errorf("%s is a %s, want %s", k, got, typ)
		}
	}
	if m["data_format_version"] != "0.2.0" || m["test_name"] != "web_connectivity" {
		return fmt.Errorf("data_format_version %v test_name %v", m["data_format_version"], m["test_name"])
	}
	for _, k := range []string{"measurement_start_time", "test_start_time"} {
		if _, err := time.Parse("2006-01-02 15:04:05", m[k].(string)); err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
	}
	if asn := m["probe_asn"].(string); !strings.HasPrefix(asn, "AS") {
		return fmt.Errorf("probe_asn %q", asn)
	}
	if cc := m["probe_cc"].(string); len(cc) != 2 || strings.ToUpper(cc) != cc {
		return fmt.Errorf("probe_cc %q", cc)
	}
	tk := m["test_keys"].(map[string]any)
	for _, k := range []string{"queries", "tcp_connect", "tls_handshakes", "requests", "control", "blocking", "accessible", "dns_consistency", "http_experiment_failure", "dns_experiment_failure"} {
		if _, ok := tk[k]; !ok {
			return fmt.Errorf("test_keys lacks %q", k)
		}
	}
	switch b := tk["blocking"].(type) {
	case nil, bool:
		if b == true {
			return fmt.Errorf("blocking is true")
		}
	case string:
		switch b {
		case "dns", "tcp_ip", "http-failure", "http-diff":
		default:
			return fmt.Errorf("blocking %q", b)
		}
	default:
		return fmt.Errorf("blocking is a %T", b)
	}
	return checkFailures("", m)
}

func checkFailures(path string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			p := path + "." + k
			if s, ok := c.(string); ok && (k == "failure" || strings.HasSuffix(k, "_failure")) {
				// The control keeps the helper's own names.
				if strings.HasPrefix(p, ".test_keys.control.") {
					if !probe.IsControlFailure(s) {
						return fmt.Errorf("%s = %q is not a test helper failure", p, s)
					}
				} else if !probe.IsFailure(s) {
					return fmt.Errorf("%s = %q is not a df-007 failure", p, s)
				}
			}
			if err := checkFailures(p, c); err != nil {
				return err
			}
		}
	case []any:
		for i, c := range x {
			if err := checkFailures(fmt.Sprintf("%s[%d]", path, i), c); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// TestValidateMeasurementsFile validates a measurements.jsonl named by
// $SPLINTER_MEASUREMENTS (from 'splinter run'), line by line.
func TestValidateMeasurementsFile(t *testing.T) {
	path := os.Getenv("SPLINTER_MEASUREMENTS")
	if path == "" {
		t.Skip("set SPLINTER_MEASUREMENTS to a measurements.jsonl")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if err := ValidateOONI([]byte(line)); err != nil {
			t.Errorf("%s:%d: %v", path, i+1, err)
		}
	}
}

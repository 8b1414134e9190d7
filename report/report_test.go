package report

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/score"
)

// TestWriteHTML renders a small run and checks the report is one
// self-contained document with its four parts.
func TestWriteHTML(t *testing.T) {
	sc, err := scenario.Embedded("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mk := func(domain, cc string, v probe.Verdict) *probe.Measurement {
		fail := probe.FailureConnectionReset
		return &probe.Measurement{
			Input: "http://" + domain + "/", ProbeCC: cc, Annotations: map[string]string{"category_code": "NEWS"},
			TestKeys: &probe.TestKeys{Verdict: v, VerdictReason: "because <script>", Start: start,
				Vantage:       probe.Vantage{Host: "cn-client-1", Addrs: []netip.Addr{netip.MustParseAddr("198.18.0.66")}},
				TLSHandshakes: []probe.TLSHandshake{{Address: netip.MustParseAddrPort("198.18.96.5:443"), ServerName: domain, Failure: &fail, Operation: "tls_handshake"}}},
			TestRuntime: 1,
		}
	}
	ms := []*probe.Measurement{mk("www.freepress-herald.com", "CN", probe.TLS), mk("www.people-daily.cn", "CN", probe.Accessible)}
	ds := []border.Decision{{Time: start.Add(time.Millisecond), Border: "CN", Policy: "CN", Rule: "cn-sni", Action: border.ActionRST, Effect: border.EffectReset, Layer: border.LayerTLS, Proto: "tcp",
		Client: netip.MustParseAddrPort("198.18.0.66:40000"), Server: netip.MustParseAddrPort("198.18.96.5:443"),
		Evidence: []border.Evidence{{Kind: "sni", Value: "www.freepress-herald.com"}}}}
	res := score.Score(ms, ds)
	if res.Agree != 2 {
		t.Fatalf("agree %d of 2: %+v", res.Agree, res.Disagree)
	}
	var b bytes.Buffer
	r := Build(sc, plan, len(ds), res)
	r.Cite(&policy.Policy{Name: "CN", Meta: policy.Meta{Jurisdiction: "CN"}, Rules: []policy.Rule{
		{ID: "cn-sni", Description: "resets <b>handshakes</b> by SNI", Source: "FOCI 2021 (MB-RA)", Year: 2021}}})
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"<svg", "Reachability by jurisdiction", "How each jurisdiction blocks", "truth ↓ measured →", "www.freepress-herald.com", "cn-sni",
		"resets &lt;b&gt;handshakes&lt;/b&gt; by SNI", "<cite>FOCI 2021 (MB-RA) (2021)</cite>", `id="glossary"`, "dns-inject", "http-failure", "@media (max-width:700px)"} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "<script>alert", "because <script>"} {
		if bad == "http://" || bad == "https://" {
			// Inputs appear as text; no resource may be fetched.
			for _, attr := range []string{`src="` + bad, `href="` + bad, `url(` + bad} {
				if strings.Contains(html, attr) {
					t.Errorf("report fetches %q", attr)
				}
			}
			continue
		}
		if strings.Contains(html, bad) {
			t.Errorf("report contains unescaped %q", bad)
		}
	}
	var s bytes.Buffer
	Build(sc, plan, len(ds), res).WriteSummary(&s)
	if !strings.Contains(s.String(), "Accuracy against the borders' decisions: 2/2") {
		t.Errorf("summary:\n%s", s.String())
	}
}

package report

import (
	"github.com/splinter-lab/splinter/border"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/probe"
)

// Term is one entry of the glossary.
type Term struct {
	Name    string `json:"name"`
	Meaning string `json:"meaning"`
	// Color is a verdict's colour in heatmaps, bars and pills ("" for
	// other terms).
	Color string `json:"color,omitempty"`
	// Blocked is true for the verdicts that count as blocking.
	Blocked bool `json:"blocked,omitempty"`
}

// Glossary says what the words of a report mean: the verdicts a
// measurement reaches, the methods a border uses (the action kinds of the
// policy language), what a rule looks at, and the rest of the vocabulary.
// The report and the explorer print the same one.
type Glossary struct {
	Verdicts []Term `json:"verdicts"`
	Methods  []Term `json:"methods"`
	Layers   []Term `json:"layers"`
	Words    []Term `json:"words"`
}

// verdictMeanings says what each verdict means, after probe's analysis
// (probe/doc.go holds the precise rules).
var verdictMeanings = map[probe.Verdict]string{
	probe.DNS:         "The DNS answer the probe got (from its resolver or a foreign one) is inconsistent with the control's: no shared address or network, and no valid certificate for the name at its addresses. A forged answer or NXDOMAIN injected on the path.",
	probe.TCPIP:       "Every TCP connect to the site's (genuine) addresses failed, again when tried after a pause, while the control connected: the addresses are blackholed or null-routed.",
	probe.Residual:    "The site was blocked (http-diff, http-failure or tls), and a harmless request to the same endpoint right after failed too: the block outlived the request that set it off.",
	probe.HTTPDiff:    "The plain-HTTP answer differs from the control's (status, length, title or headers): typically a block page injected or served in place of the site.",
	probe.HTTPFailure: "The fetch failed over plain HTTP, or after its TLS handshake succeeded, while the control's fetch worked: a reset or a timeout in mid-request (keyword or Host filtering).",
	probe.TLS:         "A TLS handshake failed after its TCP connect, with the endpoint and server name with which the control's handshake succeeded: filtering on the ClientHello's SNI.",
	probe.QUIC:        "The QUIC (HTTP/3) handshake failed where the control's worked: QUIC blocked or filtered on its Initial's SNI.",
	probe.Throttled:   "Reachable, but downloads with the site's name in the SNI ran far slower than the same downloads without it: throttling (counted as reachable).",
	probe.NonExistent: "The name exists nowhere: the probe's resolver and the control's both answer NXDOMAIN. Neither blocked nor accessible.",
	probe.Down:        "The control could not fetch the page either, and the probe got none: the website is down, not blocked.",
	probe.Accessible:  "None of the above: the probe reached what the control reached.",
	probe.Unknown:     "No verdict: there was no control measurement, or the control's own lookup failed and the probe got no page, so there is nothing to judge by.",
}

// layerMeanings says what a rule looks at, by border.Layer.
var layerMeanings = map[border.Layer]string{
	border.LayerIP:      "addresses, ports and transport: the IP and TCP/UDP headers",
	border.LayerPayload: "the shape of a flow's first bytes: fully encrypted traffic, allowed protocols, sizes",
	border.LayerDNS:     "a DNS query's name and type",
	border.LayerTLS:     "a TLS ClientHello: its server name (SNI), ESNI or ECH extensions",
	border.LayerHTTP:    "an HTTP request: its Host header, path and keywords",
	border.LayerQUIC:    "a QUIC Initial: its version and the SNI of the ClientHello inside",
}

var words = []Term{
	{Name: "jurisdiction", Meaning: "A country of the emulated world (its ISO code, the probe_cc of its measurements). Its border applies a censor policy to traffic that crosses it; some access networks have a border of their own (an ISP's, a province's)."},
	{Name: "vantage", Meaning: "The client host a measurement was taken from, inside a jurisdiction."},
	{Name: "category", Meaning: "The Citizen Lab category of a site (NEWS, HUMR, POLR, …), as in the test lists OONI measures."},
	{Name: "measurement", Meaning: "One OONI web_connectivity test of one URL from one vantage, with its control measurement from outside, in OONI's data format."},
	{Name: "verdict", Meaning: "What the probe concluded from a measurement alone (see the verdicts above)."},
	{Name: "truth", Meaning: "The verdict the borders' own decision log implies for the measurement: what really happened to its traffic. A verdict that differs from the truth is a disagreement."},
	{Name: "decision", Meaning: "One action a border took (a forged answer, a reset, a drop, a block page…), logged with the rule that took it, what the rule saw (the evidence) and when."},
	{Name: "rule", Meaning: "One behaviour of a censor policy: what it looks at, what it does. Every rule cites the measurement study or report it is modelled on (its source) and the year the behaviour was observed."},
	{Name: "evidence chain", Meaning: "A measurement's steps in order (DNS answers, connects, handshakes, fetches) with the border decisions behind them."},
	{Name: "reachable", Meaning: "accessible or throttled: the site can be used. The heatmap's share is the share of measurements reachable."},
	{Name: "behind", Meaning: "A method a measurement found besides its verdict: a site whose DNS is poisoned may also be filtered by SNI, which a probe that bypasses the forged answer sees."},
}

// NewGlossary returns the glossary: every verdict of probe, every action
// kind registered with the policy language, every layer.
func NewGlossary() Glossary {
	var g Glossary
	for _, v := range append(append([]probe.Verdict{}, probe.Verdicts...), probe.Unknown) {
		g.Verdicts = append(g.Verdicts, Term{Name: string(v), Meaning: verdictMeanings[v], Color: verdictColors[v], Blocked: v.Blocked()})
	}
	for _, k := range policy.ActionKinds() {
		g.Methods = append(g.Methods, Term{Name: k.Name, Meaning: k.Doc})
	}
	for l := border.LayerIP; int(l) <= int(border.LayerQUIC); l++ {
		g.Layers = append(g.Layers, Term{Name: l.String(), Meaning: layerMeanings[l]})
	}
	g.Words = words
	return g
}

// VerdictColor is the colour of a verdict in the report and the explorer.
func VerdictColor(v probe.Verdict) string {
	if c, ok := verdictColors[v]; ok {
		return c
	}
	return verdictColors[probe.Unknown]
}

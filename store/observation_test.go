package store_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/store"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func str(s string) *string { return &s }

// TestObservations checks how a measurement's steps are joined into
// obs_web rows, one per endpoint, on a measurement built to hold every
// case: an injected DNS answer with the genuine one arriving late, connects
// on two ports of one address, a TLS handshake and an HTTP fetch on them, a
// QUIC handshake, a redirect to an address no DNS answer named, and a
// failed AAAA query.
func TestObservations(t *testing.T) {
	forged, real := netip.MustParseAddr("198.18.104.1"), netip.MustParseAddr("198.18.96.135")
	other := netip.MustParseAddr("198.18.96.200")
	m := &probe.Measurement{
		Input: "http://www.example-news.com/", ProbeCC: "CN", ProbeASN: "AS4134",
		TestKeys: &probe.TestKeys{
			Vantage: probe.Vantage{Host: "cn-client-1"},
			Queries: []probe.DNSQuery{
				{Engine: "udp", ResolverAddress: netip.MustParseAddrPort("198.18.0.68:53"), Hostname: "www.example-news.com", QueryType: "A",
					Answers: []probe.DNSAnswer{{AnswerType: "A", IPv4: forged}}, Late: [][]probe.DNSAnswer{{{AnswerType: "A", IPv4: real, ASN: 64500}}}, T: 0.1},
				{Engine: "udp", Hostname: "www.example-news.com", QueryType: "AAAA", Failure: str("dns_nxdomain_error"), Rcode: "NXDOMAIN", T: 0.2},
			},
			TCPConnect: []probe.TCPConnect{
				{IP: forged, Port: 80, Status: probe.TCPStatus{Success: true}, T: 0.3},
				{IP: forged, Port: 443, Status: probe.TCPStatus{Failure: str("connection_reset")}, T: 0.4},
			},
			TLSHandshakes: []probe.TLSHandshake{
				{Address: netip.AddrPortFrom(forged, 443), ServerName: "www.example-news.com", Failure: str("connection_reset"), Operation: "tls_handshake", T: 0.5},
			},
			QUICHandshakes: []probe.QUICHandshake{
				{Address: netip.AddrPortFrom(forged, 443), ServerName: "www.example-news.com", Failure: str("generic_timeout_error"), T: 0.6},
			},
			Requests: []probe.HTTPRequest{
				{Request: probe.HTTPReqData{Method: "GET", URL: "http://www.example-news.com/"}, Address: netip.AddrPortFrom(forged, 80),
					Response: probe.HTTPRespData{Code: 302, Body: "", Headers: map[string]string{"Location": "http://blocked.example/"}}, T: 0.7},
				{Request: probe.HTTPReqData{Method: "GET", URL: "http://blocked.example/"}, Address: netip.AddrPortFrom(other, 80),
					Response: probe.HTTPRespData{Code: 403, Body: "blocked", Headers: map[string]string{"Server": "gate"}}, T: 0.8},
			},
		},
	}
	var got []string
	for _, o := range store.Observations(m) {
		got = append(got, summarize(o))
	}
	want := []string{
		"0 www.example-news.com 198.18.104.1:80/tcp dns=A(198.18.104.1) tcp=ok http=302",
		"1 www.example-news.com 198.18.96.135 dns=A(198.18.96.135,late) asn=64500",
		"2 www.example-news.com dns=AAAA:dns_nxdomain_error",
		"3 www.example-news.com 198.18.104.1:443/tcp dns=A(198.18.104.1) tcp=connection_reset tls=connection_reset@tls_handshake",
		"4 www.example-news.com 198.18.104.1:443/udp dns=A(198.18.104.1) tls=generic_timeout_error",
		"5 www.example-news.com 198.18.96.200:80/tcp http=403",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func summarize(o store.Observation) string {
	s := fmt.Sprintf("%d %s", o.Idx, o.Hostname)
	if o.IP.IsValid() {
		s += " " + o.IP.String()
	}
	if o.Port != nil {
		s += fmt.Sprintf(":%d/%s", *o.Port, o.Transport)
	}
	if o.DNSQueryType != nil {
		s += " dns=" + *o.DNSQueryType
		if o.DNSFailure != nil {
			s += ":" + *o.DNSFailure
		}
		if o.DNSAnswer != nil {
			s += "(" + *o.DNSAnswer
			if *o.DNSAnswerLate {
				s += ",late"
			}
			s += ")"
		}
	}
	if o.IPASN != nil {
		s += fmt.Sprintf(" asn=%d", *o.IPASN)
	}
	if o.TCPSuccess != nil {
		if *o.TCPSuccess {
			s += " tcp=ok"
		} else {
			s += " tcp=" + *o.TCPFailure
		}
	}
	if o.TLSSuccess != nil {
		if *o.TLSSuccess {
			s += " tls=ok"
		} else {
			s += " tls=" + *o.TLSFailure
			if o.TLSFailedOperation != nil {
				s += "@" + *o.TLSFailedOperation
			}
		}
	}
	if o.HTTPStatusCode != nil {
		s += fmt.Sprintf(" http=%d", *o.HTTPStatusCode)
	}
	return s
}

// TestObservationsGolden keeps the rows of the fixture's real measurements
// in testdata/observations.golden (-update rewrites it).
func TestObservationsGolden(t *testing.T) {
	f := loadFixture(t)
	var b strings.Builder
	for _, m := range f.ms {
		fmt.Fprintf(&b, "%s %s %s\n", m.TestKeys.Vantage.Host, m.Input, m.TestKeys.Verdict)
		for _, o := range store.Observations(m) {
			j, _ := json.Marshal(o)
			fmt.Fprintf(&b, "  %s\n  %s\n", summarize(o), j)
		}
	}
	const path = "testdata/observations.golden"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("observations differ from %s (go test -run TestObservationsGolden -update to accept):\n%s", path, b.String())
	}
}

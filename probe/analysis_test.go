package probe

import (
	"net/netip"
	"testing"
)

// testGeo: IR's block 198.18.16.0/20 with one network in it, IN's site
// network, and the backbone.
func testGeo() *Geo {
	pf := netip.MustParsePrefix
	return &Geo{
		nets: []geoNet{
			{prefix: pf("198.18.16.64/27"), asn: 58224, cc: "IR", name: "ir-tci"},
			{prefix: pf("198.18.81.0/24"), asn: 133982, cc: "IN", name: "in-hosting"},
			{prefix: pf("198.18.16.0/20"), cc: "IR"},
			{prefix: pf("198.18.80.0/20"), cc: "IN"},
		},
		public: []netip.Prefix{pf("198.18.16.0/20"), pf("198.18.80.0/20")},
	}
}

func TestGeoUnassigned(t *testing.T) {
	g := testGeo()
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"198.18.16.35", true},  // IR's block, no network: a block-page range
		{"198.18.16.66", false}, // ir-tci
		{"198.18.81.11", false}, // a site
		{"10.10.34.34", false},  // a bogon, not an unassigned public address
	} {
		if got := g.Unassigned(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Unassigned(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if (*Geo)(nil).Unassigned(netip.MustParseAddr("198.18.16.35")) {
		t.Error("a nil Geo knows of an unassigned address")
	}
}

func TestDNSConsistent(t *testing.T) {
	p := New(OS{ResolvConf: "/nonexistent"}, Config{Geo: testGeo()})
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	site := addrs("198.18.81.11")
	forged := addrs("198.18.16.35")
	valid := []TLSHandshake{{Address: netip.MustParseAddrPort("198.18.81.11:443")}}
	for _, tc := range []struct {
		name    string
		failure *string
		addrs   []netip.Addr
		ctrl    ControlDNS
		ipInfo  map[string]ControlIPInfo
		hss     []TLSHandshake
		want    bool
	}{
		{name: "same address", addrs: site, ctrl: ControlDNS{Addrs: site}, want: true},
		{name: "same ASN", addrs: addrs("198.18.81.12"), ctrl: ControlDNS{Addrs: site}, want: true},
		{name: "forged", addrs: forged, ctrl: ControlDNS{Addrs: site}, want: false},
		{name: "bogon", failure: str(FailureDNSBogon), addrs: addrs("10.10.34.34"), ctrl: ControlDNS{Addrs: site}, want: false},
		{name: "timeout, control resolved", failure: str(FailureTimeout), ctrl: ControlDNS{Addrs: site}, want: false},
		{name: "nxdomain both", failure: str(FailureDNSNXDomain), ctrl: ControlDNS{Failure: str(ControlFailureDNSNameError)}, want: true},
		{name: "no answer both", failure: str(FailureDNSNoAnswer), ctrl: ControlDNS{Addrs: []netip.Addr{}}, want: true},
		{name: "nxdomain, control resolved", failure: str(FailureDNSNXDomain), ctrl: ControlDNS{Addrs: site}, want: false},
		{name: "control failed, unassigned answer", addrs: forged, ctrl: ControlDNS{Failure: str(FailureTimeout)}, want: false},
		{name: "control failed, assigned answer", addrs: site, ctrl: ControlDNS{Failure: str(FailureTimeout)}, want: true},
		{name: "control failed, certificate valid", addrs: site, ctrl: ControlDNS{Failure: str(FailureTimeout)}, hss: valid, want: true},
		{name: "other ASN, certificate valid to the control", addrs: addrs("198.18.16.70"), ctrl: ControlDNS{Addrs: site},
			ipInfo: map[string]ControlIPInfo{"198.18.16.70": {Flags: IPFlagResolvedByProbe | IPFlagValidForDomain}}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl := &ControlResponse{DNS: tc.ctrl, IPInfo: tc.ipInfo}
			got, why := p.dnsConsistent(tc.failure, tc.addrs, ctrl, tc.hss)
			if got != tc.want {
				t.Errorf("consistent = %v (%s), want %v", got, why, tc.want)
			}
		})
	}
}

// TestAnalyzeWhenTheControlFails: a site the control cannot fetch either
// is down, unless the control lost its own lookup (nothing to judge by); a
// page the probe got is accessible whatever the control saw; a name both
// resolvers deny exists nowhere.
func TestAnalyzeWhenTheControlFails(t *testing.T) {
	p := New(OS{ResolvConf: "/nonexistent"}, Config{Geo: testGeo()})
	site := netip.MustParseAddr("198.18.81.11")
	ep := netip.AddrPortFrom(site, 80)
	refused := []TCPConnect{{IP: site, Port: 80, Status: TCPStatus{Failure: str(FailureConnectionRefused)}}}
	fetched := []HTTPRequest{{Response: HTTPRespData{Code: 200, Body: "<title>Site</title>"}, Address: ep}}
	for _, tc := range []struct {
		name       string
		dnsFailure *string
		addrs      []netip.Addr
		tcp        []TCPConnect
		reqs       []HTTPRequest
		ctrl       ControlResponse
		want       Verdict
		accessible *bool
	}{
		{
			name: "down", addrs: []netip.Addr{site}, tcp: refused,
			ctrl: ControlResponse{
				TCPConnect:  map[string]ControlTCP{ep.String(): {Failure: str(ControlFailureConnectionRefused)}},
				DNS:         ControlDNS{Addrs: []netip.Addr{site}},
				HTTPRequest: ControlHTTP{Failure: str(ControlFailureConnectionRefused), StatusCode: -1, BodyLength: -1},
			},
			want: Down, accessible: new(false),
		},
		{
			name: "control lost its lookup", dnsFailure: str(FailureTimeout),
			ctrl: ControlResponse{
				DNS:         ControlDNS{Failure: str(ControlFailureUnknown), Addrs: []netip.Addr{}},
				HTTPRequest: ControlHTTP{Failure: str(ControlFailureDNSLookupError), StatusCode: -1, BodyLength: -1},
			},
			want: Unknown,
		},
		{
			name: "probe got the page", addrs: []netip.Addr{site},
			tcp:  []TCPConnect{{IP: site, Port: 80, Status: TCPStatus{Success: true}}},
			reqs: fetched,
			ctrl: ControlResponse{
				DNS:         ControlDNS{Addrs: []netip.Addr{site}},
				HTTPRequest: ControlHTTP{Failure: str(ControlFailureUnknown), StatusCode: -1, BodyLength: -1},
			},
			want: Accessible, accessible: new(true),
		},
		{
			name: "nonexistent", dnsFailure: str(FailureDNSNXDomain),
			ctrl: ControlResponse{
				DNS:         ControlDNS{Failure: str(ControlFailureDNSNameError), Addrs: []netip.Addr{}},
				HTTPRequest: ControlHTTP{Failure: str(ControlFailureDNSLookupError), StatusCode: -1, BodyLength: -1},
			},
			want: NonExistent, accessible: new(false),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctrl := tc.ctrl
			tk := &TestKeys{DNSExperimentFailure: tc.dnsFailure, TCPConnect: tc.tcp, Requests: tc.reqs, Control: &ctrl}
			p.analyze(tk, tc.addrs, nil, false)
			if tk.Verdict != tc.want || tk.Blocking != tc.want.Blocking() {
				t.Errorf("verdict %s (%s), blocking %q; want %s", tk.Verdict, tk.VerdictReason, tk.Blocking, tc.want)
			}
			if (tk.Accessible == nil) != (tc.accessible == nil) || (tk.Accessible != nil && *tk.Accessible != *tc.accessible) {
				t.Errorf("accessible = %v, want %v", tk.Accessible, tc.accessible)
			}
			if len(tk.Methods) != 0 {
				t.Errorf("x_methods = %v, want none", tk.Methods)
			}
		})
	}
}

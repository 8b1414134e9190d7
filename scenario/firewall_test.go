package scenario

import (
	"errors"
	"strings"
	"testing"
)

// TestFirewall: a network's firewall reaches every host the plan puts in
// it, declared or planned (its sites' web hosts), and no host elsewhere;
// an unknown firewall is refused at its position.
func TestFirewall(t *testing.T) {
	const doc = `name: fw
jurisdictions:
  - code: US
    prefixes: [198.18.0.0/20, "2001:db8:1::/48"]
    public_resolver: true
    networks:
      - {name: us-isp, asn: 7922, kind: access, hosts: [{name: us-client-1, role: client}]}
      - name: us-cloud
        asn: 16509
        kind: hosting
        firewall: drop-invalid
        hosts: [{name: us-vps-1, role: server}]
sites:
  - {domain: www.example-news.com, category: NEWS, network: us-cloud}
`
	s, err := Load("fw.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Plan()
	if err != nil {
		t.Fatal(err)
	}
	behind := 0
	for _, h := range p.Hosts {
		want := FirewallNone
		if h.Network == "us-cloud" {
			want = FirewallDropInvalid
		}
		if h.Firewall != want {
			t.Errorf("host %s (%s, network %s): firewall %q, want %q", h.Name, h.Role, h.Network, h.Firewall, want)
		}
		if h.Firewall == FirewallDropInvalid && (h.Role == RoleWeb || h.Name == "us-vps-1") {
			behind++
		}
	}
	if behind < 2 {
		t.Errorf("%d of the web host and us-vps-1 are behind the firewall, want both", behind)
	}

	bad := strings.Replace(doc, "firewall: drop-invalid", "firewall: conntrack", 1)
	if s, err = Load("fw.yaml", []byte(bad)); err == nil {
		err = s.Validate()
	}
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) == 0 {
		t.Fatalf("firewall: conntrack: got %v, want a positioned problem", err)
	}
	if got, want := e.Problems[0].Pos.String(), "fw.yaml:11:19"; got != want || !strings.Contains(e.Problems[0].Msg, `firewall "conntrack" must be "drop-invalid"`) {
		t.Errorf("got %s: %s, want %s: firewall \"conntrack\" must be \"drop-invalid\" (or left out)", got, e.Problems[0].Msg, want)
	}
}

package scenario_test

import (
	"fmt"
	"testing"

	"github.com/splinter-lab/splinter/scenario"
)

// TestDefaultControl: a scenario that sets control nowhere gets a control
// host in its first uncensored hosting network (a hosting network with a
// border policy of its own, or one in a censored jurisdiction, is passed
// over); one that sets it gets it where it says; one with no uncensored
// hosting network gets none, and says so.
func TestDefaultControl(t *testing.T) {
	const base = `
name: control
root_network: us-cloud
jurisdictions:
  - code: CN
    prefixes: [198.18.0.0/20, "2001:db8:86::/48"]
    border: {policy: CN}
    networks:
      - {name: cn-isp, asn: 4134, kind: access, hosts: [{name: client, role: client}]}
      - {name: cn-cloud, asn: 37963, kind: hosting}
  - code: US
    prefixes: [198.18.96.0/20, "2001:db8:1::/48"]
    border: {policy: %s}
    %s
    networks:
      - {name: us-filtered, asn: 1, kind: hosting, border: {policy: CN}}
      - {name: us-cloud, asn: 16509, kind: hosting}
sites:
  - {domain: www.example-news.com, category: NEWS, network: us-cloud}
`
	for _, tc := range []struct {
		name, usPolicy, usControl string
		want                      string // the control host and its network, "" for none
		net                       string
	}{
		{"default", `""`, "", "us-control", "us-cloud"},
		{"declared", `""`, "control: true", "us-control", "us-filtered"},
		{"none-uncensored", "CN", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := fmt.Sprintf(base, tc.usPolicy, tc.usControl)
			s, err := scenario.Load(tc.name+".yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			p, err := s.Plan()
			if err != nil {
				t.Fatal(err)
			}
			var got []*scenario.PlannedHost
			for _, h := range p.Hosts {
				if h.Role == scenario.RoleControl {
					got = append(got, h)
				}
			}
			switch {
			case tc.want == "" && (len(got) != 0 || p.HasControl()):
				t.Fatalf("control hosts %v, want none", got)
			case tc.want != "" && (len(got) != 1 || got[0].Name != tc.want || got[0].Network != tc.net || !p.HasControl()):
				t.Fatalf("control hosts %+v, want %s in %s", got, tc.want, tc.net)
			}
			if tc.name == "default" {
				// After the network's other hosts, whose addresses are
				// then those they have without it.
				var last *scenario.PlannedHost
				for _, h := range p.Hosts {
					if h.Network == tc.net {
						last = h
					}
				}
				if last != got[0] {
					t.Errorf("the default control is not the last host of %s (%s is)", tc.net, last.Name)
				}
			}
		})
	}
}

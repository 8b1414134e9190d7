package scenario_test

import (
	"fmt"
	"os"

	"github.com/splinter-lab/splinter/scenario"
)

func ExamplePlan_HostsTable() {
	s, err := scenario.Open("two-lands")
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := s.Plan()
	if err != nil {
		fmt.Println(err)
		return
	}
	p.HostsTable(os.Stdout)
	// Output:
	// cn-client-1                   CN  client           198.18.0.66 2001:db8:86:1::2
	// cn-telecom-resolver           CN  resolver         198.18.0.67 2001:db8:86:1::3
	// cn-tld-ns                     CN  tld-ns           198.18.0.130 2001:db8:86:2::2
	// cn-cloud-ns                   CN  auth-ns          198.18.0.131 2001:db8:86:2::3
	// web-www-people-daily-cn       CN  web              198.18.0.132 2001:db8:86:2::4
	// us-public-resolver            US  public-resolver  198.18.96.66 2001:db8:1:1::2
	// us-control                    US  control          198.18.96.67 2001:db8:1:1::3
	// root-ns                       US  root-ns          198.18.96.68 2001:db8:1:1::4
	// gtld-ns                       US  tld-ns           198.18.96.69 2001:db8:1:1::5
	// us-cloud-ns                   US  auth-ns          198.18.96.70 2001:db8:1:1::6
	// web-www-freepress-herald-com  US  web              198.18.96.71 2001:db8:1:1::7
	// web-www-tunnelgate-vpn-com    US  web              198.18.96.72 2001:db8:1:1::8
}

func ExampleScenario_Validate() {
	s, err := scenario.Load("bad.yaml", []byte(`name: bad
jurisdictions:
  - code: XX
    prefixes: [10.0.0.0/8, "2001:db8:1::/48"]
    networks:
      - {name: xx-hosting, asn: 64500, kind: hosting}
sites:
  - {domain: www.example.com, category: NEWZ, network: xx-hosting}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Validate())
	// Output:
	// bad.yaml:4:16: jurisdiction "XX": prefix "10.0.0.0/8" is outside the allowed ranges (198.18.0.0/15, 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:2::/48, 2001:db8::/32)
	// bad.yaml:4:15: jurisdiction "XX" needs an IPv4 prefix
	// bad.yaml:8:41: site "www.example.com": category "NEWZ" is not a Citizen Lab category code
}

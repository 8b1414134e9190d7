package lab

import (
	"net/netip"

	"github.com/splinter-lab/splinter/backend"
)

// ServicesFile is what `splinter up` writes as services.json in its state
// directory: where a program run in the world (a probe, OONI's miniooni)
// finds the lab's services.
type ServicesFile struct {
	// Scenario is the name of the world's scenario.
	Scenario string `json:"scenario"`
	// CA is the scenario CA (PEM), the file's name in the state directory:
	// every service's certificate chains to it.
	CA string `json:"ca"`
	// ControlHost is the host that serves the test helper and the OONI
	// probe services, with its addresses ("" and none without one).
	ControlHost  string       `json:"control_host,omitempty"`
	ControlAddrs []netip.Addr `json:"control_addrs,omitempty"`
	// TestHelper is the web_connectivity test helper's URL, by address
	// (oohelperd's protocol): the control of every measurement.
	TestHelper string `json:"test_helper,omitempty"`
	// OONI are the OONI probe services' URLs (Lab.Services).
	OONI backend.URLs `json:"ooni"`
}

// ServicesFile describes the lab's services; ca is the CA file's name.
func (l *Lab) ServicesFile(ca string) ServicesFile {
	f := ServicesFile{Scenario: l.spec.Scenario.Name, CA: ca, OONI: l.Services()}
	if h := l.ControlHost(); h != nil {
		f.ControlHost, f.ControlAddrs = h.Name(), h.Addrs()
	}
	if a := l.ControlAddr(); a.IsValid() {
		host := a.Addr().String()
		if a.Addr().Is6() {
			host = "[" + host + "]"
		}
		if a.Port() != 80 {
			host = a.String()
		}
		f.TestHelper = "http://" + host + "/"
	}
	return f
}

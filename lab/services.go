package lab

import (
	"net/netip"
)

// Service is one of the services a lab runs on its hosts for probes inside
// the world (the web_connectivity test helper, and whatever else a probe
// needs to be pointed at): where it answers.
type Service struct {
	// Name says what it is: ServiceTestHelper, or the name its package
	// gives it.
	Name string `json:"name"`
	// URL is where it answers ("http://198.18.96.131/").
	URL string `json:"url"`
	// Host is the world host that runs it; Addr its address and port.
	Host string         `json:"host"`
	Addr netip.AddrPort `json:"addr"`
}

// ServiceTestHelper names the web_connectivity test helper (oohelperd's
// protocol), the control of every measurement.
const ServiceTestHelper = "web-connectivity-test-helper"

// ServicesFile is what `splinter up` writes as services.json in its state
// directory, for programs run in the world to find the lab's services.
type ServicesFile struct {
	// Scenario is the name of the world's scenario.
	Scenario string `json:"scenario"`
	// CA is the scenario CA (PEM) that every service's certificate chains
	// to: the file's name in the state directory.
	CA string `json:"ca"`
	// Services are the lab's services (Lab.Services).
	Services []Service `json:"services"`
}

// Services lists the services the lab runs, the test helper first; none
// when it was started with NoServices.
func (l *Lab) Services() []Service {
	var out []Service
	if l.control != nil {
		if h := l.ControlHost(); h != nil {
			a := l.control.Addr()
			out = append(out, Service{Name: ServiceTestHelper, URL: "http://" + a.String() + "/", Host: h.Name(), Addr: a})
		}
	}
	return out
}

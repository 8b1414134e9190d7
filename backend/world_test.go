package backend_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/backend"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
	"github.com/splinter-lab/splinter/world"
)

// TestInTheWorld runs the services with the real test helper on two-lands'
// control host and uses them from the client in China, over the world,
// as OONI Probe would: the test helpers list over HTTPS, the helper it
// names, check-in, the collector, the IP lookup and STUN.
func TestInTheWorld(t *testing.T) {
	sc, err := scenario.Embedded("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	open := func(world.BorderSpec) (world.Gateway, error) { return nil, nil }
	w, err := world.Start(sc, world.Options{Gateway: open})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ctl, client := w.Host("us-control"), w.Host("cn-client-1")
	geo := probe.PlanGeo(w.Plan())
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := backend.Start(ctx, ctl, backend.Config{
		TLS:       w.CA().ServerTLSConfig(),
		Helper:    probe.ControlHandler(probe.New(ctl, probe.Config{RootCAs: w.CA().Pool(), Geo: geo})),
		Advertise: "us-control." + strings.TrimSuffix(world.HostsZone, "."),
		URLs:      []backend.URL{{CategoryCode: "NEWS", URL: "https://www.freepress-herald.com/"}},
		Reports:   dir,
		Country:   geo.CC,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	u := b.URLs()
	if u.ProbeServices != "https://us-control.hosts.splinter" || len(u.STUN) != 2 {
		t.Fatalf("URLs = %+v", u)
	}
	c := client.HTTPClient()

	// The test helpers list, then the helper it names, with a request
	// as OONI's probe makes it.
	_, data := do(t, c, "GET", u.ProbeServices+"/api/v1/test-helpers", nil)
	ths := decode[map[string][]backend.Service](t, data)["web-connectivity"]
	if len(ths) != 2 || ths[0].Address != "https://us-control.hosts.splinter" || ths[1].Address != "http://us-control.hosts.splinter" {
		t.Fatalf("test helpers: %s", data)
	}
	site := w.Host("web-www-freepress-herald-com")
	for _, th := range ths {
		code, data := do(t, c, "POST", th.Address+"/", probe.ControlRequest{
			HTTPRequest:        "http://www.freepress-herald.com/",
			HTTPRequestHeaders: map[string][]string{"User-Agent": {"miniooni/3.21.0"}},
			TCPConnect:         []string{netip.AddrPortFrom(site.Addr(4), 80).String()},
		})
		resp := decode[probe.ControlResponse](t, data)
		info := resp.IPInfo[site.Addr(4).String()]
		if code != 200 || resp.HTTPRequest.StatusCode != 200 || len(resp.TCPConnect) != 4 ||
			info.Flags != probe.IPFlagResolvedByProbe|probe.IPFlagResolvedByTH|probe.IPFlagValidForDomain {
			t.Errorf("helper at %s: %d %s", th.Address, code, data)
		}
	}

	// Check-in, then submit what was measured.
	_, data = do(t, c, "POST", u.ProbeServices+"/api/v1/check-in", map[string]any{"probe_cc": "CN", "probe_asn": "AS4134"})
	var ci struct {
		Tests struct {
			WebConnectivity struct {
				ReportID string        `json:"report_id"`
				URLs     []backend.URL `json:"urls"`
			} `json:"web_connectivity"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(data, &ci); err != nil || len(ci.Tests.WebConnectivity.URLs) != 1 {
		t.Fatalf("check-in: %s", data)
	}
	id := ci.Tests.WebConnectivity.ReportID
	m := `{"input": "https://www.freepress-herald.com/", "report_id": "` + id + `", "probe_cc": "CN"}`
	if code, data := do(t, c, "POST", u.ProbeServices+"/report/"+id, `{"format": "json", "content": `+m+`}`); code != 200 {
		t.Fatalf("submit: %d %s", code, data)
	}
	stored, err := os.ReadFile(filepath.Join(dir, id+".jsonl"))
	if err != nil || strings.Count(string(stored), "\n") != 1 || !strings.Contains(string(stored), `"probe_cc":"CN"`) {
		t.Errorf("stored %q: %v", stored, err)
	}

	// Where am I: the client's own address, by HTTP and by STUN.
	_, data = do(t, c, "GET", u.HTTP+"/cdn-cgi/trace", nil)
	if ip := ooniCloudflareIP(data); ip != client.Addr(4).String() || !strings.Contains(string(data), "loc=CN\n") {
		t.Errorf("cdn-cgi/trace from %s: %q", client.Addr(4), data)
	}
	for _, s := range u.STUN {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, err := client.Dial(ctx, "udp", s)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		got := stunLookup(t, conn)
		conn.Close()
		if ap, err := netip.ParseAddrPort(got); err != nil || ap.Addr() != client.Addr(4) {
			t.Errorf("STUN at %s mapped %s, want %s", s, got, client.Addr(4))
		}
	}
	if code, _ := do(t, &http.Client{Transport: c.Transport}, "GET", u.HTTPS+"/ip", nil); code != 200 {
		t.Errorf("ip over HTTPS: %d", code)
	}
}

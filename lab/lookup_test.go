package lab_test

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
)

// TestLookupNamesReachTheControlHost: in a lab, the names of the services
// OONI Probe asks where it stands resolve to the control host, whose
// services answer there as the real ones do: Cloudflare's trace and
// Ubuntu's GeoIP lookup over HTTPS (a certificate of the scenario CA for
// those names), both STUN servers on their ports; each tells the client
// its own address. From a host in the US every name does; from the client
// in China, across the GFW, every name but stun.l.google.com, which the CN
// policy poisons with the rest of google.com (as the real GFW has since
// 2014): OONI Probe, which tries its lookups in turn, learns its address
// from another.
func TestLookupNamesReachTheControlHost(t *testing.T) {
	l, err := lab.Start(context.Background(), "two-lands", lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctl := l.ControlHost()
	names := scenario.LookupNames()
	if got := l.World().Plan().NamesOf(ctl.Name()); !slices.Equal(got, names) {
		t.Fatalf("the control host %s is called %q, want %q", ctl.Name(), got, names)
	}
	want := slices.SortedFunc(slices.Values(ctl.Addrs()), netip.Addr.Compare)
	for _, c := range []struct {
		host    string
		blocked []string // by the border's policy
		cc      string
	}{
		{"web-www-freepress-herald-com", nil, "US"},
		{"cn-client-1", []string{"stun.l.google.com"}, "CN"},
	} {
		t.Run(c.host, func(t *testing.T) {
			h := l.World().Host(c.host)
			me := h.Addr(4)
			for _, n := range names {
				if slices.Contains(c.blocked, n) {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				addrs, err := h.Resolve(ctx, n)
				cancel()
				slices.SortFunc(addrs, netip.Addr.Compare)
				if err != nil || !slices.Equal(addrs, want) {
					t.Errorf("%s resolves to %v (%v), want the control host's %v", n, addrs, err, want)
				}
			}
			hc := h.HTTPClient()
			get := func(url string) string {
				t.Helper()
				resp, err := hc.Get(url)
				if err != nil {
					t.Fatalf("GET %s: %v", url, err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s: %d %q", url, resp.StatusCode, body)
				}
				return string(body)
			}
			if trace := get("https://www.cloudflare.com/cdn-cgi/trace"); !strings.Contains(trace, "\nip="+me.String()+"\n") || !strings.Contains(trace, "\nloc="+c.cc+"\n") {
				t.Errorf("www.cloudflare.com/cdn-cgi/trace from %s: %q", me, trace)
			}
			var geo struct {
				IP string `xml:"Ip"`
			}
			if body := get("https://geoip.ubuntu.com/lookup"); xml.Unmarshal([]byte(body), &geo) != nil || geo.IP != me.String() {
				t.Errorf("geoip.ubuntu.com/lookup from %s: %q", me, body)
			}
			for _, ep := range []string{"stun.ekiga.net:3478", "stun.l.google.com:19302"} {
				if host, _, _ := net.SplitHostPort(ep); slices.Contains(c.blocked, host) {
					continue
				}
				if got := stunMapped(t, h, ep); got != me {
					t.Errorf("STUN %s mapped %s, want %s", ep, got, me)
				}
			}
		})
	}
}

// stunMapped sends a binding request to ep from h, as OONI Probe does, and
// returns the address the server saw.
func stunMapped(t *testing.T, h interface {
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
}, ep string) netip.Addr {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := h.Dial(ctx, "udp", ep)
	if err != nil {
		t.Fatalf("STUN %s: %v", ep, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	if _, err := conn.Write(req.Raw); err != nil {
		t.Fatalf("STUN %s: %v", ep, err)
	}
	buf := make([]byte, 1500)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("STUN %s: %v", ep, err)
	}
	resp := &stun.Message{Raw: buf[:n]}
	var xa stun.XORMappedAddress
	if err := resp.Decode(); err != nil || xa.GetFrom(resp) != nil {
		t.Fatalf("STUN %s: answer %x", ep, buf[:n])
	}
	a, _ := netip.AddrFromSlice(xa.IP)
	return a.Unmap()
}

package cli_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oschwald/maxminddb-golang"
	"github.com/splinter-lab/splinter/geoip"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
)

// ooniRecord is the record OONI Probe decodes from its database
// (probe-assets' OOMMDBRecord).
type ooniRecord struct {
	ASN     uint   `maxminddb:"autonomous_system_number"`
	Org     string `maxminddb:"autonomous_system_organization"`
	Country struct {
		IsoCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// checkGeoIP reads the database at path as OONI Probe does and checks
// that each client of spec's plan is found where the plan puts it: its
// network's ASN and name and its jurisdiction; and that an address
// outside the plan is not in it.
func checkGeoIP(t *testing.T, path string, spec *lab.Spec) {
	t.Helper()
	db, err := maxminddb.Open(path)
	if err != nil {
		t.Fatalf("%s is no MaxMind DB: %v", path, err)
	}
	defer db.Close()
	if db.Metadata.DatabaseType != geoip.DatabaseType {
		t.Errorf("database_type %q, want %q", db.Metadata.DatabaseType, geoip.DatabaseType)
	}
	p := spec.Plan
	clients := 0
	for _, h := range p.Hosts {
		if h.Role != scenario.RoleClient {
			continue
		}
		n := p.Network(h.Network)
		for _, a := range h.Addrs {
			var r ooniRecord
			if err := db.Lookup(net.IP(a.AsSlice()), &r); err != nil {
				t.Fatal(err)
			}
			if r.ASN != uint(n.ASN) || r.Org != n.Name || r.Country.IsoCode != h.Jurisdiction {
				t.Errorf("%s (%s): AS%d %q %q, want AS%d %q %q", a, h.Name, r.ASN, r.Org, r.Country.IsoCode, n.ASN, n.Name, h.Jurisdiction)
			}
		}
		clients++
	}
	if clients == 0 {
		t.Fatal("no client in the plan")
	}
	var r ooniRecord
	if err := db.Lookup(net.ParseIP("203.0.113.250"), &r); err != nil || r.ASN != 0 || r.Country.IsoCode != "" {
		t.Errorf("an address outside the plan: %+v, %v", r, err)
	}
}

// TestGeoIPCommand: splinter geoip writes the database up writes, readable
// by OONI Probe's reader with each client where the plan puts it; bad
// input is exit 2.
func TestGeoIPCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "geoinfo.mmdb")
	code, stdout, stderr := run("geoip", "--scenario", "two-lands", "--out", out)
	if code != 0 || !strings.Contains(stdout, "wrote "+out) || !strings.Contains(stdout, "(scenario two-lands)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	spec, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	checkGeoIP(t, out, spec)

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"geoip"}, "--out FILE is required"},
		{[]string{"geoip", "--out", out, "extra"}, `unexpected argument "extra"`},
		{[]string{"geoip", "--scenario", "atlantis", "--out", out}, `"atlantis"`},
		{[]string{"geoip", "--out", filepath.Join(t.TempDir(), "no", "such", "dir", "x.mmdb")}, "no such file or directory"},
	} {
		if code, _, stderr := run(tc.args...); code != 2 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "goroutine") {
			t.Errorf("splinter %s: exit %d, %q; want 2 and %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
}

package geoip_test

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/oschwald/maxminddb-golang"
	"github.com/splinter-lab/splinter/geoip"
	"github.com/splinter-lab/splinter/probe"
	"github.com/splinter-lab/splinter/scenario"
)

// oonirecord is the record OONI Probe decodes (probe-assets'
// OOMMDBRecord), read here with the reader OONI Probe uses
// (maxminddb-golang v1).
type oonirecord struct {
	AutonomousSystemNumber       uint   `maxminddb:"autonomous_system_number"`
	AutonomousSystemOrganization string `maxminddb:"autonomous_system_organization"`
	Country                      struct {
		IsoCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

func plan(t *testing.T, name string) *scenario.Plan {
	t.Helper()
	sc, err := scenario.Embedded(name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lookup(t *testing.T, db *maxminddb.Reader, a netip.Addr) oonirecord {
	t.Helper()
	var r oonirecord
	if err := db.Lookup(net.IP(a.AsSlice()), &r); err != nil {
		t.Fatalf("lookup %s: %v", a, err)
	}
	return r
}

// TestDatabaseAgreesWithPlanGeo reads the database of each embedded
// scenario as OONI Probe does and checks that every host's address, every
// router's and the addresses policies forge answer what splinter's own
// probe (probe.PlanGeo) says of them: the same ASN, network name and
// jurisdiction; the backbone is not in it.
func TestDatabaseAgreesWithPlanGeo(t *testing.T) {
	for _, name := range scenario.Names() {
		t.Run(name, func(t *testing.T) {
			p := plan(t, name)
			var buf bytes.Buffer
			if err := geoip.Write(&buf, p, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			db, err := maxminddb.FromBytes(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if db.Metadata.DatabaseType != geoip.DatabaseType || db.Metadata.BuildEpoch != uint(time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC).Unix()) {
				t.Errorf("metadata: type %q, epoch %d", db.Metadata.DatabaseType, db.Metadata.BuildEpoch)
			}
			geo := probe.PlanGeo(p)
			var addrs []netip.Addr
			for _, h := range p.Hosts {
				addrs = append(addrs, h.Addrs...)
			}
			for _, j := range p.Jurisdictions {
				addrs = append(addrs, j.Router.V4, j.Router.V6)
				for _, pf := range j.Prefixes {
					addrs = append(addrs, pf.Addr(), lastAddr(pf)) // forged answers live in free space
				}
			}
			if len(addrs) < 10 {
				t.Fatalf("only %d addresses to look up", len(addrs))
			}
			for _, a := range addrs {
				got := lookup(t, db, a)
				asn, org := geo.ASN(a)
				if got.AutonomousSystemNumber != uint(asn) || got.AutonomousSystemOrganization != org || got.Country.IsoCode != geo.CC(a) {
					t.Errorf("%s: database says AS%d %q %q, PlanGeo AS%d %q %q", a, got.AutonomousSystemNumber,
						got.AutonomousSystemOrganization, got.Country.IsoCode, asn, org, geo.CC(a))
				}
			}
			for _, pf := range p.BackbonePrefixes {
				if got := lookup(t, db, pf.Addr().Next()); got != (oonirecord{}) {
					t.Errorf("backbone %s: %+v, want no record", pf.Addr().Next(), got)
				}
			}
		})
	}
}

// TestRecordsCoverAHost checks, on the two-lands scenario, the record of a
// known client: cn-client-1 is in China, in its network's AS, and the
// network's record is more specific than China's.
func TestRecordsCoverAHost(t *testing.T) {
	p := plan(t, "two-lands")
	h := p.Host("cn-client-1")
	n := p.Network(h.Network)
	rs := geoip.Records(p)
	var hits []geoip.Record
	for _, r := range rs {
		if r.Prefix.Contains(h.Addrs[0]) {
			hits = append(hits, r)
		}
	}
	if len(hits) != 2 || hits[0].ASN != 0 || hits[0].CC != "CN" || hits[1].ASN != n.ASN || hits[1].Org != n.Name || hits[1].CC != "CN" {
		t.Errorf("records covering %s: %+v; want CN's prefix, then %s (AS%d)", h.Addrs[0], hits, n.Name, n.ASN)
	}
}

// TestWriteIsDeterministic: the same plan and build time give the same
// bytes (a database built into a probe can be rebuilt and compared).
func TestWriteIsDeterministic(t *testing.T) {
	p := plan(t, scenario.Default)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var a, b bytes.Buffer
	if err := geoip.Write(&a, p, at); err != nil {
		t.Fatal(err)
	}
	if err := geoip.Write(&b, p, at); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two writes of the same plan differ")
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

// Package geoip owns the world's IP geolocation database: a MaxMind DB
// (.mmdb) built from a scenario's address plan, in the record layout OONI
// Probe reads (probe-cli's geoipx and probe-assets: the GeoLite2-ASN keys
// autonomous_system_number and autonomous_system_organization beside the
// GeoIP2-Country key country.iso_code). Built into OONI Probe in place of
// the database it embeds, it makes OONI's probe_asn, probe_cc and the ASNs
// its DNS analysis compares say what splinter's own probe says (package
// probe's PlanGeo reads the same plan): the world's addresses come from the
// benchmarking and documentation ranges, which no real database places.
//
// Each network of the plan is one record (its ASN, its name as the AS
// organisation, its jurisdiction as the country); the rest of a
// jurisdiction's prefixes carry its country only; the backbone and every
// address outside the plan are not in the database (OONI then reports AS0
// and ZZ, as for an address no real database knows).
//
// It owns nothing else: it neither reads nor serves the database. The
// encoder is MaxMind's own writer (github.com/maxmind/mmdbwriter): the
// format's search tree and data section are not worth writing again.
package geoip

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/splinter-lab/splinter/scenario"
)

// DatabaseType is the database_type of the metadata of what Write writes.
const DatabaseType = "splinter-geoinfo"

// Record is what the database holds for a prefix.
type Record struct {
	Prefix netip.Prefix
	// ASN and Org are the network's autonomous system and name; 0 and ""
	// for a jurisdiction's prefix outside its networks.
	ASN uint32
	Org string
	// CC is the jurisdiction's code ("CN").
	CC string
}

// Records are the plan's records, least specific first: a jurisdiction's
// prefixes, then its networks', each overriding the part of the wider
// prefix it covers.
func Records(p *scenario.Plan) []Record {
	var rs []Record
	for _, j := range p.Jurisdictions {
		for _, pf := range j.Prefixes {
			rs = append(rs, Record{Prefix: pf.Masked(), CC: j.Code})
		}
	}
	for _, n := range p.Networks {
		for _, pf := range n.Prefixes {
			rs = append(rs, Record{Prefix: pf.Masked(), ASN: n.ASN, Org: n.Name, CC: n.Jurisdiction})
		}
	}
	slices.SortStableFunc(rs, func(a, b Record) int { return cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()) })
	return rs
}

// Write writes the database of plan p to w, with built as its build time
// (the metadata's build_epoch: the same plan and time give the same
// bytes).
func Write(w io.Writer, p *scenario.Plan, built time.Time) error {
	t, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:   built.Unix(),
		DatabaseType: DatabaseType,
		Description:  map[string]string{"en": "splinter: the networks of scenario " + p.Scenario.Name},
		// The world's addresses are the benchmarking and documentation
		// ranges, which the writer otherwise keeps out.
		IncludeReservedNetworks: true,
		RecordSize:              28,
	})
	if err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	for _, r := range Records(p) {
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(r.CC)}}
		if r.ASN != 0 {
			rec["autonomous_system_number"] = mmdbtype.Uint32(r.ASN)
			rec["autonomous_system_organization"] = mmdbtype.String(r.Org)
		}
		n := &net.IPNet{IP: r.Prefix.Addr().AsSlice(), Mask: net.CIDRMask(r.Prefix.Bits(), r.Prefix.Addr().BitLen())}
		if err := t.Insert(n, rec); err != nil {
			return fmt.Errorf("geoip: %s: %w", r.Prefix, err)
		}
	}
	if _, err := t.WriteTo(w); err != nil {
		return fmt.Errorf("geoip: %w", err)
	}
	return nil
}

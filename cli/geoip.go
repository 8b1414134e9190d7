package cli

import (
	"bytes"
	"fmt"
	"os"

	"github.com/splinter-lab/splinter/geoip"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("geoip", "write a world's GeoIP database (MaxMind DB, OONI Probe's layout)", runGeoIP)
}

// runGeoIP writes the database up writes as geoip.mmdb, without starting
// the world: to build OONI Probe with it before the world is up (package
// geoip; portal/README.md's OONI walk-through).

func runGeoIP(e *env, args []string) error {
	fs := flags(e, "geoip", "[--scenario NAME|FILE] --out FILE")
	scen := fs.String("scenario", scenario.Default, "scenario: an embedded name or a file")
	out := fs.String("out", "", "the database file to write (replaced if it exists)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return badInput("--out FILE is required")
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	// The build time is the world's date (the scenario's at:, else now),
	// as up's database says the date of the world it serves.
	var db bytes.Buffer
	if err := geoip.Write(&db, spec.Plan, spec.At); err != nil {
		return err
	}
	if err := os.WriteFile(*out, db.Bytes(), 0o644); err != nil {
		return inputError{err}
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d prefixes of %d networks in %d jurisdictions (scenario %s), %d bytes\n",
		*out, len(geoip.Records(spec.Plan)), len(spec.Plan.Networks), len(spec.Plan.Jurisdictions), spec.Scenario.Name, db.Len())
	return nil
}

package cli

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/scenario"
)

// date is a flag holding the world's date: a day (2022-06-01) or an RFC
// 3339 time.
type date struct{ t time.Time }

func (d *date) String() string {
	if d.t.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

func (d *date) Set(s string) error {
	t, err := scenario.ParseDate(s)
	if err != nil {
		return fmt.Errorf("%q is not a date (want YYYY-MM-DD, or an RFC 3339 time)", s)
	}
	d.t = t
	return nil
}

// dateFlag adds --at to a subcommand.
func dateFlag(fs *flag.FlagSet) *date {
	d := &date{}
	fs.Var(d, "at", "the world's `DATE` (YYYY-MM-DD): its clock starts there and each censor applies the version of its history then in force (default: the scenario's at:, else now)")
	return d
}

// printInForce says the world's date and what each border applies.
func printInForce(w io.Writer, at time.Time, fs []lab.InForce) {
	fmt.Fprintf(w, "world date %s; policies in force:", at.UTC().Format(time.DateOnly))
	for _, f := range fs {
		name := f.Policy
		if name == "" {
			name = "none yet"
		}
		fmt.Fprintf(w, " %s=%s", f.Border, name)
	}
	fmt.Fprintln(w)
}

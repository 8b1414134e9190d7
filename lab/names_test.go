package lab_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/probe"
)

// TestWithNames: the names of a list the world does not know become sites
// (once each, lower-cased, MISC for a category that is no Citizen Lab
// code); its own sites, IP literals and the world's own names are left
// alone; a name that cannot be a site is bad input.
func TestWithNames(t *testing.T) {
	spec, err := lab.Load("two-lands")
	if err != nil {
		t.Fatal(err)
	}
	in := []probe.Input{
		{URL: "https://Twitter.com/", Category: "GRP"},
		{URL: "http://twitter.com/home", Category: "GRP"},
		{URL: "http://www.people-daily.cn/", Category: "NEWS"},
		{URL: "http://198.18.96.71/", Category: "NEWS"},
		{URL: "http://[2001:db8:1::9]/", Category: "NEWS"},
		{URL: "http://cn-client-1.hosts.splinter/", Category: "MISC"},
		{URL: "http://ns1.nic.com/", Category: "MISC"},
		{URL: "https://www.example.org:8443/x", Category: "whatever"},
	}
	s2, added, err := spec.WithNames(in)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range added {
		got = append(got, a.Domain+" "+a.Category+" "+a.Network)
	}
	if want := "twitter.com GRP us-list-hosting|www.example.org MISC us-list-hosting"; strings.Join(got, "|") != want {
		t.Errorf("added %q, want %q", strings.Join(got, "|"), want)
	}
	if len(spec.Plan.Sites) != 3 || len(s2.Plan.Sites) != 5 {
		t.Errorf("sites: %d before, %d after", len(spec.Plan.Sites), len(s2.Plan.Sites))
	}
	// Again: nothing left to add.
	if s3, added, err := s2.WithNames(in); err != nil || len(added) != 0 || s3 != s2 {
		t.Errorf("second WithNames: %v, %v", added, err)
	}
	if _, _, err := spec.WithNames([]probe.Input{{URL: "http://intranet/"}, {URL: "http://bad_name.com/"}}); !lab.IsInput(err) || !strings.Contains(err.Error(), `"intranet" (one label)`) {
		t.Errorf("one-label name: %v", err)
	}
	if _, _, err := spec.WithNames([]probe.Input{{URL: "http://bad_name.com/"}}); !lab.IsInput(err) || !strings.Contains(err.Error(), `"bad_name.com"`) {
		t.Errorf("a name with an underscore: %v", err)
	}
}

// TestWithNamesAvoidsForgedAnswers: in splinternet, the CN profile's DNS
// injectors answer with addresses of unassigned US space (198.18.104.1,
// ...). A long list's sites hosted in the US must not take those
// addresses, or a forged answer would reach a site.
func TestWithNamesAvoidsForgedAnswers(t *testing.T) {
	spec, err := lab.Load("splinternet")
	if err != nil {
		t.Fatal(err)
	}
	var in []probe.Input
	for i := range 1500 {
		in = append(in, probe.Input{URL: fmt.Sprintf("http://www.name-%d.com/", i), Category: "NEWS"})
	}
	s2, added, err := spec.WithNames(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 1500 {
		t.Fatalf("%d sites added, want 1500", len(added))
	}
	forged := netip.MustParseAddr("198.18.104.1")
	for _, n := range s2.Plan.Networks[len(spec.Plan.Networks):] {
		if n.Prefixes[0].Contains(forged) {
			t.Errorf("%s %v holds the CN injectors' forged answer %v", n.Name, n.Prefixes, forged)
		}
	}
}

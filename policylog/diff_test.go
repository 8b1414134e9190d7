package policylog_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/splinter-lab/splinter/policylog"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update and review the diff):\n%s", name, got)
	}
}

func TestDiff(t *testing.T) {
	a, b := version(t, "v1", "1"), version(t, "v2", "2")
	d, err := policylog.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "diff.golden", []byte(d.String()))
	// Rule by rule, item by item: the list file's and the inline items.
	want := map[string]policylog.ChangeOp{
		"lists.names[]=example-rights.org": policylog.Added,
		"lists.names[]=forum.example.net":  policylog.Added,
		"lists.names[]=blog.example.net":   policylog.Removed,
		"rules[xl-sni]":                    policylog.Added,
		"lists.sni":                        policylog.Added,
	}
	for _, c := range d.Changes {
		key := c.Path
		if c.Path == "lists.names[]" {
			key += "=" + c.New + c.Old
		}
		if op, ok := want[key]; ok {
			if op != c.Op {
				t.Errorf("%s: %s, want %s", key, c.Op, op)
			}
			delete(want, key)
		}
	}
	if len(want) > 0 {
		t.Errorf("missing changes %v in\n%s", want, d)
	}
	same, err := policylog.Diff(a, a)
	if err != nil || len(same.Changes) != 0 {
		t.Errorf("a version differs from itself: %v %v", same, err)
	}
}

func TestPolicyVersionRoundTrip(t *testing.T) {
	pv := version(t, "v2", "2")
	if len(pv.Files) != 2 || pv.Files[0].Path != "xl.yaml" || pv.Files[1].Path != "lists/names.txt" {
		t.Fatalf("files %+v", pv.Files)
	}
	if pv.Effective.String() != "2024-06-01" || pv.Jurisdiction != "XL" {
		t.Errorf("version %+v", pv)
	}
	back, err := policylog.ParsePolicyVersion(pv.Canonical())
	if err != nil {
		t.Fatal(err)
	}
	if back.Hash() != pv.Hash() {
		t.Error("round trip changed the hash")
	}
	bad := bytes.Replace(pv.Canonical(), []byte(`"version":"2"`), []byte(`"version": "2"`), 1)
	if _, err := policylog.ParsePolicyVersion(bad); err == nil {
		t.Error("a non-canonical bundle parsed")
	}
}

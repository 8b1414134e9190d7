package governance_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/governance"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

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

// TestScenariosUnderEachForum replays every shipped proposal under every
// forum of its file: golden files hold the steps, decisions and reasons.
func TestScenariosUnderEachForum(t *testing.T) {
	want := map[string]map[string]governance.Decision{
		"wuzhen-2014": {
			"wic-2014":   governance.Adopted,
			"un-gge":     governance.Withdrawn,
			"cn-host":    governance.Adopted,
			"ms-council": governance.NotInitiated,
		},
		"sco-infosec-list": {
			"sco-council": governance.Adopted,
			"itu-plenary": governance.Adopted,
			"ms-council":  governance.Rejected,
			"gnso":        governance.OutOfScope,
		},
	}
	if got := governance.Names(); strings.Join(got, " ") != "sco-infosec-list wuzhen-2014" {
		t.Fatalf("embedded scenarios %v", got)
	}
	for name, forums := range want {
		f, err := governance.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		for forum, decision := range forums {
			t.Run(name+"/"+forum, func(t *testing.T) {
				outs, err := governance.Replay(f, forum)
				if err != nil {
					t.Fatal(err)
				}
				var b bytes.Buffer
				if err := governance.Format(&b, outs); err != nil {
					t.Fatal(err)
				}
				golden(t, name+"."+forum+".golden", b.Bytes())
				if outs[0].Decision != decision {
					t.Errorf("decision %s, want %s:\n%s", outs[0].Decision, decision, b.String())
				}
				for _, o := range outs {
					for _, e := range o.Entries() {
						if _, err := e.Marshal(); err != nil {
							t.Errorf("entry: %v", err)
						}
					}
				}
			})
		}
	}
}

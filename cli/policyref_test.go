package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyReferenceErrorsAgree: a scenario whose border names a missing or
// a broken policy file is bad input for check and for run alike: both exit
// 2 with the same file:line:column message, resolved by the one resolver
// of package lab.
func TestPolicyReferenceErrorsAgree(t *testing.T) {
	broken, err := os.ReadFile("testdata/bad-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, ref string
		want      []string
	}{
		{"missing", "gone.yaml", []string{`world.yaml:6:22: border of CN: policy "gone.yaml": `, "no such file"}},
		{"broken", "broken.yaml", []string{`world.yaml:6:22: border of CN: policy "broken.yaml": `,
			`broken.yaml:9:`, `no list named "nmaes"`, `"everyone" is not one of client, server, both`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			scen := filepath.Join(dir, "world.yaml")
			if err := os.WriteFile(scen, []byte(`name: ref-test
jurisdictions:
  - code: CN
    name: China
    prefixes: [198.18.0.0/20, "2001:db8:86::/48"]
    border: {policy: `+c.ref+`}
    networks:
      - {name: cn-isp, asn: 4134, kind: access, hosts: [{name: client, role: client}]}
  - code: US
    prefixes: [198.18.96.0/20, "2001:db8:1::/48"]
    control: true
    networks:
      - {name: us-cloud, asn: 16509, kind: hosting}
sites:
  - {domain: www.example-news.com, category: NEWS, network: us-cloud}
`), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), broken, 0o644); err != nil {
				t.Fatal(err)
			}
			msgs := map[string]string{}
			for _, args := range [][]string{{"check", scen}, {"run", "--scenario", scen, "--out", filepath.Join(dir, "out")}} {
				code, _, errOut := run(args...)
				if code != 2 {
					t.Fatalf("%s: exit %d, want 2\n%s", args[0], code, errOut)
				}
				for _, w := range c.want {
					if !strings.Contains(errOut, w) {
						t.Errorf("%s: stderr lacks %q:\n%s", args[0], w, errOut)
					}
				}
				if strings.Contains(errOut, "goroutine") {
					t.Errorf("%s: a stack trace:\n%s", args[0], errOut)
				}
				// The message, without the command's own prefix and
				// summary line, is the same.
				i := strings.Index(errOut, scen+":")
				if i < 0 {
					t.Fatalf("%s: no position in %q", args[0], errOut)
				}
				var lines []string
				for _, line := range strings.Split(errOut[i:], "\n") {
					if line != "" && !strings.HasPrefix(line, "splinter ") {
						lines = append(lines, line)
					}
				}
				msgs[args[0]] = strings.Join(lines, "\n")
			}
			if msgs["check"] != msgs["run"] {
				t.Errorf("check and run disagree:\ncheck: %s\nrun:   %s", msgs["check"], msgs["run"])
			}
		})
	}
}

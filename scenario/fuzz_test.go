package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are small scenarios in flow style that use every section of
// the format. FuzzLoad's seeds are kept small: the fuzzing engine minimises
// every input that finds new coverage with a pass quadratic in its length,
// and seeded with the embedded scenarios (1.3 and 20 KB) FuzzLoad spent
// each minute minimising its first find.
var fuzzSeeds = []string{
	`name: m
jurisdictions: [{code: CN, prefixes: [198.18.0.0/20, "2001:db8:86::/48"], border: {policy: CN, link: {delay: 30ms}}, networks: [{name: isp, asn: 4134, kind: access, hosts: [{name: c, role: client}]}]},
  {code: US, prefixes: [198.18.96.0/20, "2001:db8:1::/48"], public_resolver: true, control: true, networks: [{name: cloud, asn: 16509, kind: hosting}]}]
sites: [{domain: www.a.com, category: NEWS, network: cloud, http3: true}, {domain: b.cn, category: ANON, network: cloud}]
`,
	`name: n
backbone: {prefixes: [192.0.2.0/24, "2001:2::/48"], delay: 10ms, jitter: 1ms, loss: "1%", bandwidth: 10Mbit}
root_network: cloud
jurisdictions: [{code: US, prefixes: [198.18.96.0/20, "2001:db8:1::/48"], networks: [{name: cloud, asn: AS1, kind: hosting, prefixes: [198.18.97.0/24, "2001:db8:1:9::/64"], border: {policy: p.yaml}, hosts: [{name: v, role: server, addrs: [198.18.97.10], link: {bandwidth: 2Mbit}}]}]}]
`,
}

// maxFuzzSeed is the largest file of testdata/bad that seeds FuzzLoad.
const maxFuzzSeed = 400

// FuzzLoad checks that Load, Validate and Plan never panic on any bytes,
// that their errors are *Error values with at least one problem, and that a
// scenario Load accepts validates the same way twice.
func FuzzLoad(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	bad, _ := filepath.Glob("testdata/bad/*.yaml")
	for _, name := range bad {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= maxFuzzSeed {
			f.Add(data)
		}
	}
	isProblems := func(t *testing.T, what string, err error) {
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) == 0 {
			t.Fatalf("%s: error %T %v is not an *Error with problems", what, err, err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("fuzz.yaml", data)
		if err != nil {
			isProblems(t, "Load", err)
			return
		}
		err = s.Validate()
		if again := s.Validate(); (err == nil) != (again == nil) {
			t.Fatalf("Validate twice: %v, then %v", err, again)
		}
		if err != nil {
			isProblems(t, "Validate", err)
			return
		}
		if _, err := s.Plan(); err != nil {
			isProblems(t, "Plan", err)
		}
		s.PolicyRefs()
	})
}

func TestFuzzSeedsPlan(t *testing.T) {
	for i, seed := range fuzzSeeds {
		s, err := Load("seed.yaml", []byte(seed))
		if err == nil {
			_, err = s.Plan()
		}
		if err != nil {
			t.Errorf("seed %d: %v", i, err)
		}
	}
}

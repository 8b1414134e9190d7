package dissect

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated fuzz seeds in testdata/fuzz")

// writeSeed writes one seed in the "go test fuzz v1" corpus format to
// testdata/fuzz/<fuzzName>/<name> when -update is given. Each argument is a
// []byte, a bool or an int.
func writeSeed(t *testing.T, fuzzName, name string, args ...any) {
	t.Helper()
	if !*update {
		return
	}
	var sb strings.Builder
	sb.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&sb, "[]byte(%q)\n", v)
		case bool:
			fmt.Fprintf(&sb, "bool(%v)\n", v)
		case int:
			fmt.Fprintf(&sb, "int(%d)\n", v)
		default:
			t.Fatalf("writeSeed: unsupported %T", a)
		}
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '_'
	}, name)
	dir := filepath.Join("testdata", "fuzz", fuzzName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustZeroAllocs fails the test if f allocates.
func mustZeroAllocs(t *testing.T, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, f); n != 0 {
		t.Errorf("allocations per run = %v, want 0", n)
	}
}

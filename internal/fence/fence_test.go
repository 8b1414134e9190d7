package fence

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/splinter-lab/splinter/"

// pkg is what `go list -json` says of a package.
type pkg struct {
	ImportPath string
	Name       string
	Doc        string
	Imports    []string
}

// chain is the one-way flow of data: a package may import those before it.
var chain = []string{"scenario", "world", "border", "probe", "score", "report"}

// forbidden lists, per package, module packages it must never import.
var forbidden = map[string][]string{
	"world": {"policy", "profiles", "lab"},
	// The explorer presents what the store holds: it runs no world.
	"explorer": {"lab", "world", "portal", "cli"},
}

// violations checks the fences over pkgs.
func violations(pkgs []pkg) []string {
	var out []string
	rank := map[string]int{}
	for i, c := range chain {
		rank[c] = i
	}
	for _, p := range pkgs {
		short := strings.TrimPrefix(p.ImportPath, module)
		if p.Name != "main" && strings.TrimSpace(p.Doc) == "" {
			out = append(out, fmt.Sprintf("%s has no package doc comment", short))
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "gvisor.dev/") && short != "internal/netstack" {
				out = append(out, fmt.Sprintf("%s imports %s: only internal/netstack may import gVisor", short, imp))
			}
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			if r, ok := rank[short]; ok {
				if rd, ok := rank[dep]; ok && rd > r {
					out = append(out, fmt.Sprintf("%s imports %s, which comes later in the flow %s", short, dep, strings.Join(chain, " → ")))
				}
			}
			if slices.Contains(forbidden[short], dep) {
				out = append(out, fmt.Sprintf("%s imports %s", short, dep))
			}
		}
	}
	return out
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"...")
	cmd.Dir = "../.."
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(stdout)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	return pkgs
}

// TestFences checks the fences over the module as it is.
func TestFences(t *testing.T) {
	pkgs := listPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestFencesCatch shows each fence failing on a module that breaks it.
func TestFencesCatch(t *testing.T) {
	for _, c := range []struct {
		p    pkg
		want string
	}{
		{pkg{ImportPath: module + "world", Name: "world", Doc: "x", Imports: []string{module + "border"}}, "world imports border, which comes later"},
		{pkg{ImportPath: module + "world", Name: "world", Doc: "x", Imports: []string{module + "policy"}}, "world imports policy"},
		{pkg{ImportPath: module + "score", Name: "score", Doc: "x", Imports: []string{module + "report"}}, "score imports report, which comes later"},
		{pkg{ImportPath: module + "probe", Name: "probe", Doc: "x", Imports: []string{"gvisor.dev/gvisor/pkg/tcpip"}}, "only internal/netstack may import gVisor"},
		{pkg{ImportPath: module + "lab", Name: "lab"}, "lab has no package doc comment"},
	} {
		got := violations([]pkg{c.p})
		if len(got) != 1 || !strings.Contains(got[0], c.want) {
			t.Errorf("%+v: violations %q, want one with %q", c.p, got, c.want)
		}
	}
	ok := []pkg{
		{ImportPath: module + "report", Name: "report", Doc: "x", Imports: []string{module + "score", module + "probe", module + "scenario"}},
		{ImportPath: module + "internal/netstack", Name: "netstack", Doc: "x", Imports: []string{"gvisor.dev/gvisor/pkg/tcpip"}},
		{ImportPath: module + "cmd/splinter", Name: "main", Imports: []string{module + "cli"}},
	}
	if got := violations(ok); len(got) != 0 {
		t.Errorf("violations in a fenced module: %q", got)
	}
}

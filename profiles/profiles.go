// Package profiles holds splinter's censor profiles: one policy file per
// national (or provincial, or ISP) censor, each rule citing the published
// measurement it reproduces and the year it models, embedded in the binary.
// It owns the files and their loading by name; the language is package
// policy's and the enforcement package border's.
package profiles

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/splinter-lab/splinter/policy"
)

//go:embed *.yaml *.html lists
var files embed.FS

// Names lists the embedded profiles, sorted.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Has reports whether name is an embedded profile.
func Has(name string) bool {
	_, err := fs.Stat(files, name+".yaml")
	return err == nil
}

// Load loads and validates the embedded profile name.
func Load(name string) (*policy.Policy, error) {
	data, err := files.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("profiles: no profile %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return policy.Load(name+".yaml", data, files, ".")
}

// FS returns the embedded files (profiles, lists, block pages), for tools
// that show or copy them.
func FS() fs.FS { return files }

// Package profiles holds splinter's censor profiles: one history per
// national (or provincial, or ISP) censor, embedded in the binary. A history
// (package policy's History) is the censor's policy over time: a first
// version written whole, then dated versions that each change what changed,
// every rule and every change citing the published measurement it
// reproduces and the year it models.
//
// A name is either a history ("CN": the world's date picks the version in
// force) or one of its versions ("CN-2019": pinned). The package owns the
// files and their loading by name; the language is package policy's and
// the enforcement package border's.
package profiles

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/policy"
)

//go:embed *.yaml *.html lists
var files embed.FS

// index maps every embedded name to its history file, without reading the
// list files.
type index struct {
	histories []string            // sorted
	history   map[string]string   // version name -> history name
	versions  map[string][]string // history name -> its versions, in date order
}

var theIndex = sync.OnceValue(func() *index {
	ix := &index{history: map[string]string{}, versions: map[string][]string{}}
	ents, _ := fs.ReadDir(files, ".")
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || e.IsDir() {
			continue
		}
		data, _ := files.ReadFile(e.Name())
		var doc struct {
			Versions []struct {
				Version string `yaml:"version"`
			} `yaml:"versions"`
		}
		// A file that does not parse is still listed; Load reports why.
		_ = yaml.Unmarshal(data, &doc)
		ix.histories = append(ix.histories, name)
		for _, v := range doc.Versions {
			if v.Version != "" && v.Version != name {
				ix.history[v.Version] = name
				ix.versions[name] = append(ix.versions[name], v.Version)
			}
		}
	}
	slices.Sort(ix.histories)
	return ix
})

// Names lists every embedded name, sorted: each history and each of its
// versions.
func Names() []string {
	ix := theIndex()
	names := slices.Clone(ix.histories)
	for v := range ix.history {
		names = append(names, v)
	}
	slices.Sort(names)
	return names
}

// Histories lists the embedded histories (one per censor), sorted.
func Histories() []string { return slices.Clone(theIndex().histories) }

// Versions lists the versions of the named history in date order.
func Versions(history string) []string { return slices.Clone(theIndex().versions[history]) }

// Has reports whether name is an embedded history or version.
func Has(name string) bool {
	ix := theIndex()
	_, v := ix.history[name]
	return v || slices.Contains(ix.histories, name)
}

// IsHistory reports whether name is an embedded history (whose version the
// world's date picks) rather than a pinned version.
func IsHistory(name string) bool { return slices.Contains(theIndex().histories, name) }

// History loads and validates the history name belongs to: the named
// history, or the history of the named version. Every call reads the files
// afresh, so callers may change what they get.
func History(name string) (*policy.History, error) {
	ix := theIndex()
	file := name
	if h, ok := ix.history[name]; ok {
		file = h
	} else if !slices.Contains(ix.histories, name) {
		return nil, fmt.Errorf("profiles: no profile %q (have %s)", name, strings.Join(Names(), ", "))
	}
	data, err := files.ReadFile(file + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return policy.LoadHistory(file+".yaml", data, files, ".")
}

// Load loads the named version, or the latest version of the named history.
func Load(name string) (*policy.Policy, error) {
	h, err := History(name)
	if err != nil {
		return nil, err
	}
	if v := h.Version(name); v != nil {
		return v.Policy, nil
	}
	return h.Latest().Policy, nil
}

// LoadAt loads what name enforces at t: for a history, the version in force
// then (nil, with no error, before its first version: the censor applied
// nothing the history models); for a version, that version whatever t.
func LoadAt(name string, t time.Time) (*policy.Policy, error) {
	h, err := History(name)
	if err != nil {
		return nil, err
	}
	if v := h.Version(name); v != nil {
		return v.Policy, nil
	}
	if v := h.At(t); v != nil {
		return v.Policy, nil
	}
	return nil, nil
}

// FS returns the embedded files (histories, lists, block pages), for tools
// that show or copy them.
func FS() fs.FS { return files }

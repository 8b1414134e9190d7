package policylog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"testing/fstest"
	"time"

	"github.com/splinter-lab/splinter/policy"
)

// PolicyVersion is one version of a policy exactly as a border would load
// it: the policy YAML and every file it reads (list files, block-page
// bodies), byte for byte, with its name, jurisdiction, version label and
// effective date. Its canonical serialisation (Canonical) is what the log's
// entry commits to by hash. The zero value is not valid; use
// NewPolicyVersion, ReadPolicyVersion or ParsePolicyVersion.
type PolicyVersion struct {
	Name         string `json:"name"`
	Jurisdiction string `json:"jurisdiction"`
	Version      string `json:"version"`
	Effective    Day    `json:"effective"`
	// Main is the path of the policy YAML among Files.
	Main string `json:"main"`
	// Files are the policy YAML and the files it reads, sorted by path;
	// paths are slash-separated and relative to the policy's directory.
	Files []File `json:"files"`
	// Cause names the governance proposal the version results from, if
	// any.
	Cause string `json:"cause,omitempty"`
}

// File is one file of a policy bundle.
type File struct {
	Path string `json:"path"`
	Data []byte `json:"data"`
}

// canonicalHeader opens every canonical bundle (domain separation).
const canonicalHeader = "splinter-policy-version/v1\n"

// ReadPolicyVersion loads the policy file at file (which validates it, and
// reads its lists) and bundles it with every file it refers to. An empty
// version label becomes the policy's meta year or name; a zero effective
// date becomes the policy's meta effective date, or an error if it has none.
func ReadPolicyVersion(file, version string, effective Day) (*PolicyVersion, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	return NewPolicyVersion(file, data, os.DirFS(filepath.Dir(file)), version, effective)
}

// NewPolicyVersion is ReadPolicyVersion for a policy held in memory: name
// is its file name (used in error positions; its base name becomes Main), data its YAML, and fsys (may be nil) holds the files it
// refers to, relative to the policy's directory.
func NewPolicyVersion(name string, data []byte, fsys fs.FS, version string, effective Day) (*PolicyVersion, error) {
	p, err := policy.Load(name, data, fsys, ".")
	if err != nil {
		return nil, err
	}
	pv := &PolicyVersion{
		Name:         p.Name,
		Jurisdiction: p.Meta.Jurisdiction,
		Version:      version,
		Effective:    effective,
		Main:         path.Base(filepath.ToSlash(name)),
		Files:        []File{{Path: path.Base(filepath.ToSlash(name)), Data: data}},
	}
	if pv.Version == "" {
		pv.Version = p.Name
		if p.Meta.Year != 0 {
			pv.Version = fmt.Sprint(p.Meta.Year)
		}
	}
	if pv.Effective.IsZero() {
		if p.Meta.Effective.IsZero() {
			return nil, fmt.Errorf("policylog: %s: no effective date given and the policy's meta has none", name)
		}
		pv.Effective = DayOf(p.Meta.Effective.Time())
	}
	for _, ref := range referencedFiles(p) {
		if ref == pv.Main || slices.ContainsFunc(pv.Files, func(f File) bool { return f.Path == ref }) {
			continue
		}
		b, err := fs.ReadFile(fsys, ref)
		if err != nil {
			return nil, fmt.Errorf("policylog: %s: %w", name, err)
		}
		pv.Files = append(pv.Files, File{Path: ref, Data: b})
	}
	pv.sortFiles()
	return pv, nil
}

// referencedFiles lists the files a loaded policy read, slash-separated and
// relative to its directory.
func referencedFiles(p *policy.Policy) []string { return p.Files() }

// sortFiles puts the main file first, the rest by path.
func (pv *PolicyVersion) sortFiles() {
	slices.SortFunc(pv.Files, func(a, b File) int {
		switch {
		case a.Path == pv.Main:
			return -1
		case b.Path == pv.Main:
			return 1
		case a.Path < b.Path:
			return -1
		case a.Path > b.Path:
			return 1
		}
		return 0
	})
}

// Canonical returns the version's canonical serialisation: a header line
// and compact JSON (file data in base64).
func (pv *PolicyVersion) Canonical() []byte {
	var b bytes.Buffer
	b.WriteString(canonicalHeader)
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pv); err != nil {
		panic(err) // only strings and bytes: cannot fail
	}
	return b.Bytes()
}

// Hash is the SHA-256 of Canonical.
func (pv *PolicyVersion) Hash() [32]byte { return sha256.Sum256(pv.Canonical()) }

// Ref is what the log records of the version.
func (pv *PolicyVersion) Ref() PolicyRef {
	h := pv.Hash()
	ref := PolicyRef{
		Name: pv.Name, Jurisdiction: pv.Jurisdiction, Version: pv.Version,
		Effective: pv.Effective, SHA256: hex.EncodeToString(h[:]), Cause: pv.Cause,
	}
	for _, f := range pv.Files {
		fh := sha256.Sum256(f.Data)
		ref.Files = append(ref.Files, FileRef{Path: f.Path, Size: len(f.Data), SHA256: hex.EncodeToString(fh[:])})
	}
	return ref
}

// Entry is the log entry that records the version.
func (pv *PolicyVersion) Entry() Entry {
	ref := pv.Ref()
	return Entry{Type: EntryPolicyVersion, Policy: &ref}
}

// ParsePolicyVersion decodes a canonical bundle and checks that it loads
// as a valid policy.
func ParsePolicyVersion(canonical []byte) (*PolicyVersion, error) {
	body, ok := bytes.CutPrefix(canonical, []byte(canonicalHeader))
	if !ok {
		return nil, errors.New("policylog: not a policy version bundle (bad header)")
	}
	var pv PolicyVersion
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&pv); err != nil {
		return nil, fmt.Errorf("policylog: policy version bundle does not decode: %v", err)
	}
	if !bytes.Equal(pv.Canonical(), canonical) {
		return nil, errors.New("policylog: policy version bundle is not in canonical form")
	}
	if _, err := pv.Policy(); err != nil {
		return nil, err
	}
	return &pv, nil
}

// Policy loads the version's policy from its files, as a border would.
func (pv *PolicyVersion) Policy() (*policy.Policy, error) {
	fsys := fstest.MapFS{}
	var main []byte
	for _, f := range pv.Files {
		if !fs.ValidPath(f.Path) {
			return nil, fmt.Errorf("policylog: policy version %s: bad file path %q", pv.Version, f.Path)
		}
		fsys[f.Path] = &fstest.MapFile{Data: f.Data, Mode: 0o444, ModTime: time.Unix(0, 0)}
		if f.Path == pv.Main {
			main = f.Data
		}
	}
	if main == nil {
		return nil, fmt.Errorf("policylog: policy version %s: main file %q is not in the bundle", pv.Version, pv.Main)
	}
	return policy.Load(pv.Main, main, fsys, ".")
}

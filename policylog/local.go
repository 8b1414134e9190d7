package policylog

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// OpenDir opens the log in dir for appending, with its signer key in
// dir/log.key; if dir holds no log yet, it creates the key (named origin,
// mode 0600) and the log. created says which happened. This is how the
// command line and the lab keep a log and its key together; a log whose
// key is kept elsewhere is opened with Open.
func OpenDir(dir, origin string, rand io.Reader) (l *Log, created bool, err error) {
	keyFile := filepath.Join(dir, SignerKeyFile)
	_, statErr := os.Stat(filepath.Join(dir, CheckpointFile))
	exists := statErr == nil
	if !exists && !errors.Is(statErr, fs.ErrNotExist) {
		return nil, false, fmt.Errorf("policylog: %w", statErr)
	}
	skey, _, err := LoadOrCreateKey(keyFile, origin, rand)
	if err != nil {
		return nil, false, err
	}
	if exists {
		l, err = Open(dir, skey)
		return l, false, err
	}
	l, err = Create(dir, skey)
	return l, err == nil, err
}

// LocalWitness is a witness whose signer key and state are kept beside a
// log, in witnesses/<name>.key (mode 0600) and witnesses/<name>.state,
// the name path-escaped, as `splinter log cosign` keeps them: a stand-in
// for an independent witness, for labs and tests.
type LocalWitness struct {
	*Witness
	// Created says the witness's key was made by OpenWitness.
	Created bool
	state   string
}

// OpenWitness loads the witness called name that follows l, or makes its
// key with rand. Its cosignatures are timestamped by clock (nil: the
// system clock).
func OpenWitness(l *Log, name string, clock func() time.Time, rand io.Reader) (*LocalWitness, error) {
	if clock == nil {
		clock = time.Now
	}
	base := filepath.Join(l.Dir(), WitnessDir, url.PathEscape(name))
	skey, created, err := LoadOrCreateKey(base+".key", name, rand)
	if err != nil {
		return nil, err
	}
	c, err := NewCosigner(skey, clock)
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(l.VerifierKey())
	if err != nil {
		return nil, fmt.Errorf("policylog: %w", err)
	}
	w := &LocalWitness{Witness: NewWitness(c, v), Created: created, state: base + ".state"}
	switch st, err := os.ReadFile(w.state); {
	case err == nil:
		if err := w.RestoreState(st); err != nil {
			return nil, fmt.Errorf("policylog: %s: %w", w.state, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("policylog: %w", err)
	}
	return w, nil
}

// Save writes the witness's state (the size and root it last cosigned).
func (w *LocalWitness) Save() error {
	if err := os.WriteFile(w.state, w.MarshalState(), 0o600); err != nil {
		return fmt.Errorf("policylog: %w", err)
	}
	return nil
}

// FindPolicy returns the index of the first policy-version entry whose
// bundle has the given sha256 (hex), if the log holds one.
func (l *Log) FindPolicy(sha256 string) (int64, bool) {
	needle := []byte(`"sha256":"` + sha256 + `"`)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, data := range l.entries {
		if !bytes.Contains(data, needle) {
			continue
		}
		if e, err := ParseEntry(data); err == nil && e.Type == EntryPolicyVersion && e.Policy.SHA256 == sha256 {
			return int64(i), true
		}
	}
	return 0, false
}

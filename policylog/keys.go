package policylog

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// GenerateKey makes an Ed25519 signer key and its verifier key for name
// (note.GenerateKey), reading randomness from rand.
func GenerateKey(rand io.Reader, name string) (skey, vkey string, err error) {
	skey, vkey, err = note.GenerateKey(rand, name)
	if err != nil {
		return "", "", fmt.Errorf("policylog: %w", err)
	}
	return skey, vkey, nil
}

// VerifierKey derives the Ed25519 note verifier key of a signer key.
func VerifierKey(skey string) (string, error) {
	name, seed, err := parseSignerKey(skey)
	if err != nil {
		return "", err
	}
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return "", fmt.Errorf("policylog: %w", err)
	}
	return vkey, nil
}

// LoadOrCreateKey reads the signer key in the file at path or, if there is
// none, generates one for name with rand and writes it with mode 0600
// (creating the directory, 0700). created says which happened. A key file
// that other users may read is refused.
func LoadOrCreateKey(path, name string, rand io.Reader) (skey string, created bool, err error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		fi, err := os.Stat(path)
		if err != nil {
			return "", false, fmt.Errorf("policylog: %w", err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return "", false, fmt.Errorf("policylog: key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
		}
		skey = strings.TrimSpace(string(b))
		if _, _, err := parseSignerKey(skey); err != nil {
			return "", false, fmt.Errorf("policylog: %s: %w", path, err)
		}
		return skey, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", false, fmt.Errorf("policylog: %w", err)
	}
	skey, _, err = GenerateKey(rand, name)
	if err != nil {
		return "", false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", false, fmt.Errorf("policylog: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("policylog: %w", err)
	}
	if _, err := f.WriteString(skey + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("policylog: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", false, fmt.Errorf("policylog: %w", err)
	}
	return skey, true, nil
}

package policylog_test

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/policylog"
)

// TestOpenDirAndLocalWitness: a log kept with its key in one directory is
// created once and reopened after; a local witness keeps its key and state
// beside it, so that reopened it cosigns the grown log from the size it
// remembers; FindPolicy finds a version by its bundle's hash.
func TestOpenDirAndLocalWitness(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "log")
	l, created, err := policylog.OpenDir(dir, "log.example", seeded(1))
	if err != nil || !created {
		t.Fatalf("OpenDir: created %v, %v", created, err)
	}
	if fi, err := os.Stat(filepath.Join(dir, policylog.SignerKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	w, err := policylog.OpenWitness(l, "w.example/1", func() time.Time { return t0 }, seeded(2))
	if err != nil || !w.Created {
		t.Fatalf("OpenWitness: %v", err)
	}
	pv := version(t, "v1", "1")
	i, err := l.AppendPolicy(pv)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Cosign(w.Witness); err != nil {
		t.Fatal(err)
	}
	if err := w.Save(); err != nil {
		t.Fatal(err)
	}
	h := pv.Hash()
	if got, ok := l.FindPolicy(hex.EncodeToString(h[:])); !ok || got != i {
		t.Errorf("FindPolicy = %d, %v; want %d", got, ok, i)
	}
	if _, ok := l.FindPolicy(hex.EncodeToString(make([]byte, 32))); ok {
		t.Error("FindPolicy found a version that is not logged")
	}

	l2, created, err := policylog.OpenDir(dir, "ignored", seeded(3))
	if err != nil || created || l2.Size() != 1 || l2.Origin() != "log.example" {
		t.Fatalf("reopen: created %v, size %d, origin %s, %v", created, l2.Size(), l2.Origin(), err)
	}
	if _, err := l2.AppendPolicy(version(t, "v2", "2")); err != nil {
		t.Fatal(err)
	}
	w2, err := policylog.OpenWitness(l2, "w.example/1", func() time.Time { return t0 }, seeded(4))
	if err != nil || w2.Created || w2.VerifierKey() != w.VerifierKey() || w2.State("log.example").Size != 1 {
		t.Fatalf("reopened witness: created %v, state %+v, %v", w2.Created, w2.State("log.example"), err)
	}
	if err := l2.Cosign(w2.Witness); err != nil {
		t.Fatal(err)
	}
	keys, _ := policylog.KeysFromDir(dir)
	if rep, err := policylog.VerifyDir(dir, keys); err != nil || rep.Size != 2 || len(rep.Cosigners) != 1 {
		t.Errorf("verify: %+v %v", rep, err)
	}
}

package policylog_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/splinter-lab/splinter/policylog"
)

var t0 = time.Date(2014, 11, 19, 22, 0, 0, 0, time.UTC)

// seeded returns a deterministic randomness source for keys.
func seeded(n uint64) io.Reader {
	var seed [32]byte
	seed[0] = byte(n)
	return rand.NewChaCha8(seed)
}

type fixture struct {
	dir       string
	log       *policylog.Log
	witnesses []*policylog.Witness
	keys      policylog.Keys
}

func witness(t *testing.T, name string, n uint64, logVKey string) *policylog.Witness {
	t.Helper()
	skey, _, err := policylog.GenerateKey(seeded(n), name)
	if err != nil {
		t.Fatal(err)
	}
	c, err := policylog.NewCosigner(skey, func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(logVKey)
	if err != nil {
		t.Fatal(err)
	}
	return policylog.NewWitness(c, v)
}

func version(t *testing.T, dir, label string) *policylog.PolicyVersion {
	t.Helper()
	pv, err := policylog.ReadPolicyVersion(filepath.Join("testdata", dir, "xl.yaml"), label, policylog.Day{})
	if err != nil {
		t.Fatal(err)
	}
	return pv
}

func step(i int) policylog.Entry {
	return policylog.Entry{Type: policylog.EntryGovernance, Governance: &policylog.Governance{
		Proposal: "p1", Forum: "f1", Kind: policylog.StepSupport, Time: t0.Add(time.Duration(i) * time.Minute),
		Actor: fmt.Sprintf("actor-%d", i),
	}}
}

// newFixture builds a log of 2 policy versions and steps steps, cosigned
// by two witnesses after the first version and again at the end.
func newFixture(t *testing.T, steps int) *fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "log")
	skey, _, err := policylog.GenerateKey(seeded(1), "policylog.splinter.test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := policylog.Create(dir, skey)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: dir, log: l}
	f.witnesses = []*policylog.Witness{witness(t, "w1.splinter.test", 2, l.VerifierKey()), witness(t, "w2.splinter.test", 3, l.VerifierKey())}
	if i, err := l.AppendPolicy(version(t, "v1", "1")); err != nil || i != 0 {
		t.Fatalf("AppendPolicy = %d, %v", i, err)
	}
	for _, w := range f.witnesses {
		if err := l.Cosign(w); err != nil {
			t.Fatal(err)
		}
	}
	var es []policylog.Entry
	for i := range steps {
		es = append(es, step(i))
	}
	if _, err := l.Append(es...); err != nil {
		t.Fatal(err)
	}
	if i, err := l.AppendPolicy(version(t, "v2", "2")); err != nil || i != int64(steps+1) {
		t.Fatalf("AppendPolicy = %d, %v", i, err)
	}
	for _, w := range f.witnesses {
		if err := l.Cosign(w); err != nil {
			t.Fatal(err)
		}
	}
	if f.keys, err = policylog.KeysFromDir(dir); err != nil {
		t.Fatal(err)
	}
	if len(f.keys.Witnesses) != 2 {
		t.Fatalf("witness keys %v", f.keys.Witnesses)
	}
	return f
}

func TestAppendOpenVerify(t *testing.T) {
	f := newFixture(t, 300)
	rep, err := policylog.VerifyDir(f.dir, f.keys)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Size != 302 || len(rep.Cosigners) != 2 || rep.Policies != 2 || rep.Checkpoints != 4 {
		t.Errorf("report %+v", rep)
	}
	// Reopening recomputes the same tree; appending goes on from there.
	skey, _, _ := policylog.GenerateKey(seeded(1), "policylog.splinter.test")
	l, err := policylog.Open(f.dir, skey)
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 302 || !bytes.Equal(l.Checkpoint(), f.log.Checkpoint()) {
		t.Fatalf("reopened: size %d", l.Size())
	}
	if i, err := l.Append(step(999)); err != nil || i != 302 {
		t.Fatalf("Append = %d, %v", i, err)
	}
	if _, err := policylog.VerifyDir(f.dir, f.keys); err != nil {
		t.Fatal(err)
	}
	// The files a tree of 303 needs, by the spec's names.
	for _, p := range []string{"tile/0/000", "tile/0/001.p/47", "tile/1/000.p/1", "tile/entries/000", "tile/entries/001.p/47", "checkpoints/302", "checkpoints/303"} {
		if _, err := os.Stat(filepath.Join(f.dir, p)); err != nil {
			t.Error(err)
		}
	}
	// Read-only: no appends, and another key is refused.
	ro, err := policylog.Open(f.dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ro.Append(step(1)); err == nil {
		t.Error("read-only log appended")
	}
	other, _, _ := policylog.GenerateKey(seeded(9), "policylog.splinter.test")
	if _, err := policylog.Open(f.dir, other); err == nil || !strings.Contains(err.Error(), "not the key of the log") {
		t.Errorf("Open with another key: %v", err)
	}
	if _, err := policylog.Create(f.dir, skey); err == nil {
		t.Error("Create over an existing log succeeded")
	}
}

// flip changes one byte of a file: at offset off (negative: from the end),
// to a different character of the same class (so base64 stays base64).
func flip(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off += len(b)
	}
	switch c := b[off]; {
	case c == 'A':
		b[off] = 'B'
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9':
		b[off] = 'A'
	default:
		b[off] ^= 0x01
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sigOffset returns the offset of the i-th character of the signature on
// the line signed by name.
func sigOffset(t *testing.T, path, name string, i int) int {
	t.Helper()
	b, _ := os.ReadFile(path)
	k := bytes.Index(b, []byte("— "+name+" "))
	if k < 0 {
		t.Fatalf("%s has no signature by %s:\n%s", path, name, b)
	}
	return k + len("— "+name+" ") + i
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestVerifyNamesTampering(t *testing.T) {
	f := newFixture(t, 300)
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, dir string)
		want   []string
	}{
		{"level-0 tile", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "tile/0/000"), 32*7+3) },
			[]string{"tile/0/000: hash 7 (entry 7) does not match the entries"}},
		{"partial tile", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "tile/0/001.p/46"), 5) },
			[]string{"tile/0/001.p/46: hash 0 (entry 256)"}},
		{"level-1 tile", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "tile/1/000.p/1"), 0) },
			[]string{"tile/1/000.p/1: hash 0 (entries 0-255)"}},
		{"stale partial tile", func(t *testing.T, dir string) { flip(t, filepath.Join(dir, "tile/0/000.p/1"), 0) },
			[]string{"tile/0/000.p/1: hash 0 (entry 0)"}},
		{"entry", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "tile/entries/000")
			b, _ := os.ReadFile(p)
			i := bytes.Index(b, []byte("actor-41"))
			b[i+6] = '7'
			os.WriteFile(p, b, 0o644)
		}, []string{"entry 42 (in tile/entries/000): its leaf hash does not match tile/0/000"}},
		{"entry and its tile", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "tile/entries/000")
			b, _ := os.ReadFile(p)
			i := bytes.Index(b, []byte("actor-41"))
			b[i+6] = '7'
			os.WriteFile(p, b, 0o644)
			es := policylog.SplitBundleForTest(b)
			h := tlog.RecordHash(es[42])
			tp := filepath.Join(dir, "tile/0/000")
			tb, _ := os.ReadFile(tp)
			copy(tb[42*32:], h[:])
			os.WriteFile(tp, tb, 0o644)
		}, []string{"tile/1/000.p/1: hash 0 (entries 0-255) does not match", "the entries do not hash to the root of checkpoint"}},
		{"log signature", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			flip(t, p, sigOffset(t, p, "policylog.splinter.test", 20))
		}, []string{"checkpoint: the log's signature does not verify"}},
		{"log key hash", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			flip(t, p, sigOffset(t, p, "policylog.splinter.test", 1))
		}, []string{"checkpoint: signature line 1 is by an unknown key policylog.splinter.test+"}},
		{"cosignature", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			flip(t, p, sigOffset(t, p, "w2.splinter.test", 30))
		}, []string{"checkpoint: cosignature of witness w2.splinter.test does not verify"}},
		{"cosignature timestamp", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			flip(t, p, sigOffset(t, p, "w1.splinter.test", 9))
		}, []string{"checkpoint: cosignature of witness w1.splinter.test does not verify"}},
		{"historical cosignature", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoints/1")
			flip(t, p, sigOffset(t, p, "w1.splinter.test", 40))
		}, []string{"checkpoints/1: cosignature of witness w1.splinter.test does not verify"}},
		{"checkpoint size", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "checkpoint")
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte("\n302\n"), []byte("\n301\n"), 1), 0o644)
		}, []string{"checkpoint: the log's signature does not verify", "cosignature of witness w1.splinter.test does not verify"}},
		{"policy bundle", func(t *testing.T, dir string) {
			ps, _ := filepath.Glob(filepath.Join(dir, "policies", "*"))
			flip(t, ps[0], 200)
		}, []string{"does not hash to the logged sha256"}},
		{"missing tile", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tile/1/000.p/1")) },
			[]string{"tile/1/000.p/1: missing"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyDir(t, f.dir)
			tc.tamper(t, dir)
			_, err := policylog.VerifyDir(dir, f.keys)
			var ve *policylog.VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("VerifyDir = %v, want a *VerifyError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestWitnessRefuses(t *testing.T) {
	f := newFixture(t, 3)
	w := witness(t, "w3.splinter.test", 4, f.log.VerifierKey())
	cp := f.log.Checkpoint()
	size := f.log.Size()
	proof, err := f.log.ProveConsistency(2, size)
	if err != nil {
		t.Fatal(err)
	}
	status := func(err error) int {
		var we *policylog.WitnessError
		if errors.As(err, &we) {
			return we.Status
		}
		return 0
	}
	// A fresh witness knows size 0: a request from 2 conflicts, and says 0.
	_, err = w.AddCheckpoint(policylog.AddCheckpointRequest(2, proof, cp))
	var we *policylog.WitnessError
	if !errors.As(err, &we) || we.Status != 409 || we.Size != 0 {
		t.Fatalf("stale old size: %v", err)
	}
	if _, err := w.AddCheckpoint(policylog.AddCheckpointRequest(0, nil, cp)); err != nil {
		t.Fatal(err)
	}
	if st := w.State(f.log.Origin()); st.Size != size {
		t.Fatalf("witness state %+v", st)
	}
	// Grow the log; a wrong proof is 422, a rollback 400, another log 404,
	// a forged signature 403.
	if _, err := f.log.Append(step(100)); err != nil {
		t.Fatal(err)
	}
	cp2 := f.log.Checkpoint()
	bad, _ := f.log.ProveConsistency(size-1, size+1)
	if _, err := w.AddCheckpoint(policylog.AddCheckpointRequest(size, bad, cp2)); status(err) != 422 {
		t.Errorf("bad proof: %v", err)
	}
	if _, err := w.AddCheckpoint(policylog.AddCheckpointRequest(size+5, nil, cp2)); status(err) != 400 {
		t.Errorf("old beyond size: %v", err)
	}
	otherSkey, _, _ := policylog.GenerateKey(seeded(7), "other.splinter.test")
	other, _ := policylog.Create(filepath.Join(t.TempDir(), "other"), otherSkey)
	if _, err := w.AddCheckpoint(policylog.AddCheckpointRequest(0, nil, other.Checkpoint())); status(err) != 404 {
		t.Errorf("unknown log: %v", err)
	}
	forged := bytes.Replace(cp2, []byte("\n"+fmt.Sprint(size+1)+"\n"), []byte("\n"+fmt.Sprint(size+2)+"\n"), 1)
	if _, err := w.AddCheckpoint(policylog.AddCheckpointRequest(size, nil, forged)); status(err) != 403 {
		t.Errorf("forged: %v", err)
	}
	// The log learns the witness's size from its 409 and cosigns.
	if err := f.log.Cosign(w); err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(f.log.Checkpoint(), verifiers(t, f.log.VerifierKey(), w.VerifierKey()))
	if err != nil || len(n.Sigs) != 2 {
		t.Fatalf("cosigned checkpoint: %v", err)
	}
	if ts, err := policylog.CosignatureTime(n.Sigs[1]); err != nil || !ts.Equal(t0) {
		t.Errorf("cosignature time %v, %v; want %v", ts, err, t0)
	}
	// State survives a round trip.
	w2 := witness(t, "w3.splinter.test", 4, f.log.VerifierKey())
	if err := w2.RestoreState(w.MarshalState()); err != nil || w2.State(f.log.Origin()) != w.State(f.log.Origin()) {
		t.Errorf("restored state %+v, %v", w2.State(f.log.Origin()), err)
	}
}

func verifiers(t *testing.T, logKey string, cosigKeys ...string) note.Verifiers {
	t.Helper()
	lv, err := note.NewVerifier(logKey)
	if err != nil {
		t.Fatal(err)
	}
	vs := []note.Verifier{lv}
	for _, k := range cosigKeys {
		v, err := policylog.NewCosignatureVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...)
}

// httpTiles is a tlog.TileReader over HTTP: a standard client of the
// served log that knows only the tlog-tiles paths.
type httpTiles struct {
	base string
	n    int
}

func (h *httpTiles) Height() int { return policylog.TileHeight }
func (h *httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := get(h.base + "/" + policylog.TilePath(t))
		if err != nil {
			return nil, err
		}
		h.n++
		out[i] = b
	}
	return out, nil
}
func (h *httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func get(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

func TestServedTilesReadByStandardClient(t *testing.T) {
	f := newFixture(t, 300)
	srv := httptest.NewServer(f.log.Handler())
	defer srv.Close()

	cp, err := get(srv.URL + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp, verifiers(t, f.keys.Log, f.keys.Witnesses...))
	if err != nil || len(n.Sigs) != 3 {
		t.Fatalf("served checkpoint: %v", err)
	}
	// tlog.ParseTree reads the Go checksum database's header; a checkpoint
	// body is origin, size, root.
	lines := strings.Split(n.Text, "\n")
	var size int64
	fmt.Sscan(lines[1], &size)
	h, _ := base64.StdEncoding.DecodeString(lines[2])
	tree := tlog.Tree{N: size, Hash: tlog.Hash(h)}
	if tree.N != 302 {
		t.Fatalf("tree %+v", tree)
	}
	tr := &httpTiles{base: srv.URL}
	r := tlog.TileHashReader(tree, tr)
	bundle0, err := get(srv.URL + "/tile/entries/000")
	if err != nil {
		t.Fatal(err)
	}
	bundle1, err := get(srv.URL + "/tile/entries/001.p/46")
	if err != nil {
		t.Fatal(err)
	}
	entries := append(policylog.SplitBundleForTest(bundle0), policylog.SplitBundleForTest(bundle1)...)
	if len(entries) != 302 {
		t.Fatalf("%d entries served", len(entries))
	}
	for _, i := range []int64{0, 1, 42, 255, 256, 301} {
		p, err := tlog.ProveRecord(tree.N, i, r)
		if err != nil {
			t.Fatalf("ProveRecord(%d): %v", i, err)
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, tlog.RecordHash(entries[i])); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		// The log's own proof says the same.
		own, err := f.log.ProveInclusion(i, tree.N)
		if err != nil || !bytes.Contains(own, cp) {
			t.Errorf("ProveInclusion(%d): %v", i, err)
		}
	}
	// Consistency from the first cosigned checkpoint (size 1).
	old, err := os.ReadFile(filepath.Join(f.dir, "checkpoints", "1"))
	if err != nil {
		t.Fatal(err)
	}
	on, err := note.Open(old, verifiers(t, f.keys.Log, f.keys.Witnesses...))
	if err != nil {
		t.Fatal(err)
	}
	oh, _ := base64.StdEncoding.DecodeString(strings.Split(on.Text, "\n")[2])
	tp, err := tlog.ProveTree(tree.N, 1, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckTree(tp, tree.N, tree.Hash, 1, tlog.Hash(oh)); err != nil {
		t.Errorf("consistency 1 -> %d: %v", tree.N, err)
	}
	own, err := f.log.ProveConsistency(1, tree.N)
	if err != nil || len(own) != len(tp) {
		t.Errorf("ProveConsistency: %v (%d hashes, client %d)", err, len(own), len(tp))
	}
	if tr.n == 0 {
		t.Error("the client read no tiles")
	}
	// Keys and state are not served; bad paths are 404.
	for _, p := range []string{"/log.key", "/witnesses/w1.splinter.test.vkey", "/tile/0/0", "/tile/0/000.p/256", "/tile/../log.key", "/checkpoints/1"} {
		if _, err := get(srv.URL + p); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("GET %s: %v", p, err)
		}
	}
	resp, err := http.Post(srv.URL+"/checkpoint", "text/plain", nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Errorf("POST: %s", resp.Status)
		}
	}
}

func TestVerifyPolicy(t *testing.T) {
	f := newFixture(t, 10)
	trust := policylog.Trust{Log: f.keys.Log, Witnesses: f.keys.Witnesses, Quorum: 2}
	pv := version(t, "v2", "2")
	idx := int64(11)
	proof, err := f.log.ProveInclusion(idx, f.log.Size())
	if err != nil {
		t.Fatal(err)
	}
	v, err := policylog.VerifyPolicy(pv.Canonical(), proof, trust)
	if err != nil {
		t.Fatal(err)
	}
	if v.Index != idx || v.Size != 12 || len(v.Cosigners) != 2 || v.Policy.Version != "2" {
		t.Errorf("verified %+v", v)
	}
	// The first version's proof at size 1 carries the cosignatures it got then.
	p1, err := f.log.ProveInclusion(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policylog.VerifyPolicy(version(t, "v1", "1").Canonical(), p1, trust); err != nil {
		t.Errorf("v1 at size 1: %v", err)
	}
	otherLog, _, _ := policylog.GenerateKey(seeded(8), "policylog.splinter.test")
	otherVKey, _ := policylog.VerifierKey(otherLog)
	stepProof, _ := f.log.ProveInclusion(3, f.log.Size())
	tampered := bytes.Replace(proof, []byte("index 11\n"), []byte("index 10\n"), 1)
	for _, tc := range []struct {
		name      string
		policy    []byte
		proof     []byte
		trust     policylog.Trust
		wantError string
	}{
		{"other policy", version(t, "v1", "1").Canonical(), proof, trust, "is not the one logged at entry 11"},
		{"quorum", pv.Canonical(), proof, policylog.Trust{Log: trust.Log, Witnesses: trust.Witnesses[:1], Quorum: 2}, "quorum 2 of 1 witnesses"},
		{"no cosignature", pv.Canonical(), proof, policylog.Trust{Log: trust.Log, Witnesses: []string{witness(t, "w9.splinter.test", 9, trust.Log).VerifierKey()}, Quorum: 1}, "cosigned by 0 trusted witnesses"},
		{"untrusted log", pv.Canonical(), proof, policylog.Trust{Log: otherVKey}, "checkpoint"},
		{"not a policy", pv.Canonical(), stepProof, trust, "is a governance entry, not a policy version"},
		{"wrong index", pv.Canonical(), tampered, trust, "entry 10 is not included"},
		{"garbage", pv.Canonical(), []byte("hello\n"), trust, "proof"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policylog.VerifyPolicy(tc.policy, tc.proof, tc.trust)
			if err == nil || !strings.Contains(err.Error(), tc.wantError) {
				t.Errorf("VerifyPolicy = %v, want an error containing %q", err, tc.wantError)
			}
		})
	}
}

func TestTilePaths(t *testing.T) {
	for _, tc := range []struct {
		tile tlog.Tile
		path string
	}{
		{tlog.Tile{H: 8, L: 0, N: 0, W: 256}, "tile/0/000"},
		{tlog.Tile{H: 8, L: 0, N: 1234067, W: 256}, "tile/0/x001/x234/067"},
		{tlog.Tile{H: 8, L: 2, N: 1000, W: 17}, "tile/2/x001/000.p/17"},
		{tlog.Tile{H: 8, L: -1, N: 5, W: 1}, "tile/entries/005.p/1"},
	} {
		if got := policylog.TilePath(tc.tile); got != tc.path {
			t.Errorf("TilePath(%+v) = %s, want %s", tc.tile, got, tc.path)
		}
		if got, err := policylog.ParseTilePath(tc.path); err != nil || got != tc.tile {
			t.Errorf("ParseTilePath(%s) = %+v, %v", tc.path, got, err)
		}
	}
	for _, bad := range []string{"tile/0/0", "tile/0/x000/001", "tile/00/000", "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/07", "tile/64/000", "tile/0/001/002", "tile/data/000", "tiles/0/000"} {
		if _, err := policylog.ParseTilePath(bad); err == nil {
			t.Errorf("ParseTilePath(%q) succeeded", bad)
		}
	}
}

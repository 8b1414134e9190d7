package lab

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/splinter-lab/splinter/clock"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/policylog"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/score"
)

// Transparency makes a lab's borders enforce only logged policies: before
// a border is built, the version of its policy must be an entry of Log,
// proved included in a checkpoint signed by the log and cosigned by the
// witnesses its jurisdiction trusts (policylog.VerifyPolicy), and in force
// on the lab clock's date; the border's decisions then cite the entry's
// index. A border whose version fails is refused with a *RefusedError and
// the lab does not start. Its zero value is not usable: Log is required.
type Transparency struct {
	// Log holds the borders' policy versions. It must have been opened
	// with its signer key if Append is set.
	Log *policylog.Log
	// Append has the lab append every border's version that the log does
	// not hold yet, then have Witnesses cosign the new checkpoint. Without
	// it, a version the log does not hold is refused.
	Append bool
	// Witnesses cosign the log's latest checkpoint before the lab proves
	// inclusion (each at most once per start, and only if it has not
	// cosigned that checkpoint already).
	Witnesses []*policylog.Witness
	// Trust is what each jurisdiction (by code) trusts; a jurisdiction not
	// in it trusts Default.
	Trust   map[string]policylog.Trust
	Default policylog.Trust
	// Versions give, by border name, the version a border presents as the
	// one it enforces; a border not in it presents the version the lab
	// bundles from its policy's files (an embedded profile's, or the
	// policy file and every file it reads), which must load to the very
	// policy the border enforces. A version given here is what the log
	// and the audit see: the engine enforces Spec.Borders' Policy all the
	// same, so a test can build a border that lies about its policy.
	Versions map[string]*policylog.PolicyVersion
	// Proofs give, by border name, the inclusion proof a border presents
	// (a tlog-proof); a border not in it presents the proof the lab asks
	// the log for, against its latest checkpoint.
	Proofs map[string][]byte
	// Effective dates the versions the lab bundles. Zero: the policy's
	// meta effective date, else 1 January of its meta year, else the lab
	// clock's day.
	Effective policylog.Day

	// saves persist local witnesses' state after they cosign.
	saves []func() error
	// parsed holds policies already loaded from versions (Govern's).
	parsed map[*policylog.PolicyVersion]*policy.Policy
}

// Default names of a lab's own log and witnesses.
const (
	LabLogOrigin = "log.splinter.test"
	labWitness   = "witness-%d.splinter.test"
)

// OpenTransparency opens the log in dir (with its key, dir/log.key), or
// creates it with a fresh key, and two witnesses whose keys and state are
// kept in dir/witnesses/ (made on first use): what a run without a log of
// its own uses. Every jurisdiction trusts the log's key and both
// witnesses, with a quorum of two; the lab appends the versions the log
// lacks. Cosignatures are timestamped by clk (nil: the system clock); keys
// are drawn from rnd (nil: crypto/rand).
func OpenTransparency(dir string, clk clock.Clock, rnd io.Reader) (*Transparency, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	clk = clock.Or(clk)
	l, _, err := policylog.OpenDir(dir, LabLogOrigin, rnd)
	if err != nil {
		return nil, fmt.Errorf("transparency log: %w", err)
	}
	t := &Transparency{Log: l, Append: true, Default: policylog.Trust{Log: l.VerifierKey(), Quorum: 2}}
	for i := 1; i <= 2; i++ {
		w, err := policylog.OpenWitness(l, fmt.Sprintf(labWitness, i), clk.Now, rnd)
		if err != nil {
			return nil, fmt.Errorf("transparency log: %w", err)
		}
		t.Witnesses = append(t.Witnesses, w.Witness)
		t.saves = append(t.saves, w.Save)
		t.Default.Witnesses = append(t.Default.Witnesses, w.VerifierKey())
	}
	return t, nil
}

// RefusedError is a border refusing the policy version it was given.
type RefusedError struct {
	Border  string
	Policy  string // "name version", or the policy's name if it has no version yet
	Problem error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("lab: border of %s refuses policy %s: %v", e.Border, e.Policy, e.Problem)
}

func (e *RefusedError) Unwrap() error { return e.Problem }

// Admission is what a border proved before it was built: the version it
// enforces and where the log holds it.
type Admission struct {
	Border   string
	Version  *policylog.PolicyVersion
	Verified *policylog.Verified
	// logged is the version's policy, as the log holds it (for the audit).
	logged *policy.Policy
}

// Index is the log index the border's decisions cite.
func (a *Admission) Index() int64 { return a.Verified.Index }

func (t *Transparency) trust(jurisdiction string) policylog.Trust {
	if tr, ok := t.Trust[jurisdiction]; ok {
		return tr
	}
	return t.Default
}

// admit logs (if allowed) and verifies the version of every border of s
// at the time now, in plan order. It returns the admissions by border name,
// or every refusal joined.
func (t *Transparency) admit(s *Spec, now time.Time) (map[string]*Admission, error) {
	if t.Log == nil {
		return nil, errors.New("lab: transparency without a log")
	}
	type border struct {
		b      Border
		pv     *policylog.PolicyVersion
		logged *policy.Policy // nil until parsed
		index  int64
	}
	var bs []*border
	var errs []error
	appended := false
	for _, b := range s.Borders {
		pv := t.Versions[b.Name]
		var logged *policy.Policy
		if pv == nil {
			var err error
			if pv, logged, err = t.bundle(b, now); err != nil {
				errs = append(errs, &RefusedError{Border: b.Name, Policy: b.Policy.Name, Problem: err})
				continue
			}
		}
		if logged == nil {
			logged = t.parsed[pv]
		}
		x := &border{b: b, pv: pv, logged: logged}
		h := pv.Hash()
		i, ok := t.Log.FindPolicy(hex.EncodeToString(h[:]))
		switch {
		case ok:
			x.index = i
		case t.Proofs[b.Name] != nil:
			x.index = -1 // the presented proof alone must convince
		case !t.Append:
			errs = append(errs, &RefusedError{Border: b.Name, Policy: pv.Name + " " + pv.Version,
				Problem: fmt.Errorf("the version (sha256 %x…) is not in the log %s, and a border enforces only logged policies", h[:6], t.Log.Origin())})
			continue
		default:
			i, err := t.Log.AppendPolicy(pv)
			if err != nil {
				return nil, fmt.Errorf("lab: logging the policy of %s: %w", b.Name, err)
			}
			x.index, appended = i, true
		}
		bs = append(bs, x)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := t.cosign(appended); err != nil {
		return nil, err
	}
	out := map[string]*Admission{}
	size := t.Log.Size()
	for _, x := range bs {
		proof := t.Proofs[x.b.Name]
		if proof == nil {
			var err error
			if proof, err = t.Log.ProveInclusion(x.index, size); err != nil {
				return nil, fmt.Errorf("lab: proving the policy of %s: %w", x.b.Name, err)
			}
		}
		refuse := func(err error) {
			errs = append(errs, &RefusedError{Border: x.b.Name, Policy: x.pv.Name + " " + x.pv.Version, Problem: err})
		}
		v, err := policylog.VerifyPolicy(x.pv.Canonical(), proof, t.trust(x.b.Jurisdiction))
		if err != nil {
			refuse(fmt.Errorf("no valid inclusion proof against the trust of %s: %w", x.b.Jurisdiction, err))
			continue
		}
		if eff := v.Policy.Effective.Time(); eff.After(now) {
			refuse(fmt.Errorf("the version takes effect on %s; the lab's clock reads %s", v.Policy.Effective, now.UTC().Format(time.DateOnly)))
			continue
		}
		if x.logged == nil {
			if x.logged, err = x.pv.Policy(); err != nil {
				refuse(err)
				continue
			}
		}
		out[x.b.Name] = &Admission{Border: x.b.Name, Version: x.pv, Verified: v, logged: x.logged}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// cosign has every witness cosign the latest checkpoint if the log grew
// or the witness has not cosigned it.
func (t *Transparency) cosign(grew bool) error {
	for _, w := range t.Witnesses {
		if !grew && cosigned(t.Log.Checkpoint(), w) {
			continue
		}
		if err := t.Log.Cosign(w); err != nil {
			return fmt.Errorf("lab: %w", err)
		}
	}
	for _, save := range t.saves {
		if err := save(); err != nil {
			return err
		}
	}
	return nil
}

// cosigned reports whether the checkpoint carries a valid cosignature of w.
func cosigned(cp []byte, w *policylog.Witness) bool {
	v, err := policylog.NewCosignatureVerifier(w.VerifierKey())
	if err != nil {
		return false
	}
	n, err := note.Open(cp, note.VerifierList(v))
	if err != nil {
		return false // not cosigned by w (or not validly)
	}
	for _, s := range n.Sigs {
		if s.Name == v.Name() && s.Hash == v.KeyHash() {
			return true
		}
	}
	return false
}

// bundle makes the policy version of a border from its policy's files
// (the policy file and every file it read, byte for byte), and returns it
// with the policy it loads to, which must be the one the border enforces.
func (t *Transparency) bundle(b Border, now time.Time) (*policylog.PolicyVersion, *policy.Policy, error) {
	p := b.Policy
	eff := t.Effective
	switch {
	case !eff.IsZero():
	case !p.Meta.Effective.IsZero():
		eff = policylog.DayOf(p.Meta.Effective.Time())
	case p.Meta.Year != 0:
		eff = policylog.DayOf(time.Date(p.Meta.Year, 1, 1, 0, 0, 0, 0, time.UTC))
	default:
		eff = policylog.DayOf(now)
	}
	var fsys fs.FS
	switch {
	case profiles.Has(b.Ref) && (p.Source == b.Ref+".yaml" || p.History != ""):
		fsys = profiles.FS()
	case p.Source != "":
		fsys = os.DirFS(filepath.Dir(p.Source))
	default:
		return nil, nil, errors.New("it was not read from a file, so the lab cannot log it (give its version in Transparency.Versions)")
	}
	main := path.Base(filepath.ToSlash(p.Source))
	// A version of a history is logged as a policy of its own (its changes
	// applied), beside the files it reads.
	standalone, isVersion := p.Standalone()
	if isVersion {
		main = p.Name + ".yaml"
	}
	pv := &policylog.PolicyVersion{Name: p.Name, Jurisdiction: p.Meta.Jurisdiction, Version: p.Name, Effective: eff, Main: main}
	if p.Meta.Year != 0 {
		pv.Version = fmt.Sprint(p.Meta.Year)
	}
	for _, name := range append([]string{main}, p.Files()...) {
		if slices.ContainsFunc(pv.Files, func(f policylog.File) bool { return f.Path == name }) {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if isVersion && name == main {
			data, err = standalone, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bundling its files: %w", err)
		}
		pv.Files = append(pv.Files, policylog.File{Path: name, Data: data})
	}
	slices.SortStableFunc(pv.Files[1:], func(a, b policylog.File) int { return strings.Compare(a.Path, b.Path) })
	logged, err := pv.Policy()
	if err != nil {
		return nil, nil, err
	}
	if d := policylog.DiffPolicies(logged, p); len(d.Changes) > 0 {
		var lines []string
		for i, c := range d.Changes {
			if i == 3 {
				lines = append(lines, fmt.Sprintf("… %d more", len(d.Changes)-i))
				break
			}
			lines = append(lines, c.String())
		}
		return nil, nil, fmt.Errorf("the border enforces a policy that differs from its file %s (%s)", p.Source, strings.Join(lines, "; "))
	}
	return pv, logged, nil
}

// Admission returns what the named border proved, or nil when the lab runs
// without a transparency log.
func (l *Lab) Admission(border string) *Admission { return l.admitted[border] }

// Declared is what the log says each border enforces, for score.Audit: the
// version its decisions cite, with that version's rule IDs and list items.
// Nil without a transparency log.
func (l *Lab) Declared() []score.Declared {
	if l.admitted == nil {
		return nil
	}
	var out []score.Declared
	for _, b := range l.spec.Borders {
		a := l.admitted[b.Name]
		if a == nil {
			continue
		}
		d := score.Declared{Border: b.Name, Index: a.Index(), Policy: a.Version.Name, Version: a.Version.Version}
		for _, r := range a.logged.Rules {
			d.Rules = append(d.Rules, r.ID)
		}
		for _, ls := range a.logged.Lists {
			d.Items = append(d.Items, ls.Items...)
		}
		out = append(out, d)
	}
	return out
}

package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/internal/userfile"
	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("check", "validate scenario and policy files (or embedded ones by name)", runCheck)
}

func runCheck(e *env, args []string) error {
	fs := flags(e, "check", "[--max-file-size SIZE] FILE|NAME...")
	maxSize := byteSize(userfile.DefaultLimit)
	fs.Var(&maxSize, "max-file-size", "the largest file splinter reads: bytes, or a number with KiB, MiB or GiB")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInput("nothing to check: give scenario or policy files, or embedded names (%s; %v)", scenario.Default, profiles.Names())
	}
	userfile.SetLimit(int64(maxSize))
	defer userfile.SetLimit(0)
	var bad []error
	for _, arg := range fs.Args() {
		// Loading runs beside the wait for a signal: the YAML decoder
		// cannot be interrupted, so on SIGINT or SIGTERM check returns at
		// once and leaves it to die with the process.
		type result struct {
			summary string
			err     error
		}
		done := make(chan result, 1)
		go func() {
			s, err := check(arg)
			done <- result{s, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-e.ctx.Done():
			return fmt.Errorf("interrupted while checking %s", arg)
		}
		if r.err != nil {
			bad = append(bad, r.err)
			fmt.Fprintln(e.stderr, r.err)
			continue
		}
		fmt.Fprintf(e.stdout, "ok  %s: %s\n", arg, r.summary)
	}
	if len(bad) > 0 {
		return inputError{fmt.Errorf("%d of %d failed", len(bad), fs.NArg())}
	}
	return nil
}

// check validates one argument: an embedded scenario or profile name, or a
// scenario or policy file (told apart by their top-level keys). The file
// is read once, through userfile (a regular file, within the size limit).
func check(arg string) (string, error) {
	data, err := userfile.ReadFile(arg)
	if errors.Is(err, fs.ErrNotExist) {
		for _, n := range scenario.Names() {
			if n == arg {
				sc, err := scenario.Embedded(arg)
				if err != nil {
					return "", err
				}
				return checkScenario(sc, true)
			}
		}
		if profiles.IsHistory(arg) {
			h, err := profiles.History(arg)
			if err != nil {
				return "", err
			}
			return checkHistory(h)
		}
		if profiles.Has(arg) {
			p, err := profiles.Load(arg)
			if err != nil {
				return "", err
			}
			return checkPolicy(p)
		}
		return "", fmt.Errorf("%s: no such file, embedded scenario or profile", arg)
	}
	if err != nil {
		return "", err
	}
	switch kind, err := fileKind(arg, data); kind {
	case "scenario":
		sc, err := scenario.Load(arg, data)
		if err != nil {
			return "", err
		}
		return checkScenario(sc, false)
	case "policy", "history":
		dir, err := userfile.OpenDir(filepath.Dir(arg))
		if err != nil {
			return "", err
		}
		defer dir.Close()
		if kind == "history" {
			h, err := policy.LoadHistory(arg, data, dir.FS(), ".")
			if err != nil {
				return "", err
			}
			return checkHistory(h)
		}
		p, err := policy.Load(arg, data, dir.FS(), ".")
		if err != nil {
			return "", err
		}
		return checkPolicy(p)
	default:
		return "", err
	}
}

// fileKind tells a scenario ("jurisdictions:" at the top) from a policy
// ("rules:"). A scan of the lines that start a top-level key decides for
// block-style YAML without decoding it twice; anything else (flow style, a
// syntax error, a document that is not a mapping) is decoded to find out,
// and what is wrong is reported with its position.
func fileKind(name string, data []byte) (string, error) {
	rules := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := sc.Bytes()
		if bytes.HasPrefix(line, []byte("jurisdictions:")) {
			return "scenario", nil
		}
		if bytes.HasPrefix(line, []byte("versions:")) {
			return "history", nil
		}
		rules = rules || bytes.HasPrefix(line, []byte("rules:"))
	}
	if rules {
		return "policy", nil
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// The scenario decoder words YAML syntax errors with their
		// position.
		_, err := scenario.Load(name, data)
		return "", err
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	pos := name + ":" + strconv.Itoa(max(root.Line, 1)) + ":" + strconv.Itoa(max(root.Column, 1))
	if root.Kind != yaml.MappingNode {
		return "", fmt.Errorf("%s: neither a scenario nor a policy: the file is not a YAML mapping of keys", pos)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "jurisdictions":
			return "scenario", nil
		case "rules":
			return "policy", nil
		case "versions":
			return "history", nil
		}
	}
	return "", fmt.Errorf("%s: neither a scenario (no jurisdictions:) nor a policy (no rules:) nor a policy history (no versions:)", pos)
}

func checkPolicy(p *policy.Policy) (string, error) {
	if err := lab.CheckPolicy(p); err != nil {
		return "", err
	}
	items := 0
	for _, l := range p.Lists {
		items += len(l.Items)
	}
	return fmt.Sprintf("policy %s (%s, %d): %d rules, %d lists, %d list items", p.Name, p.Meta.Jurisdiction, p.Meta.Year, len(p.Rules), len(p.Lists), items), nil
}

// checkHistory compiles every version of a censor's history.
func checkHistory(h *policy.History) (string, error) {
	var names []string
	for _, v := range h.Versions {
		if err := lab.CheckPolicy(v.Policy); err != nil {
			return "", fmt.Errorf("version %s: %w", v.Name, err)
		}
		names = append(names, v.Name)
	}
	first, last := h.Versions[0], h.Latest()
	return fmt.Sprintf("history %s (%s): %d versions from %s to %s (%s); the latest: %d rules, %d lists",
		h.Name, h.Meta.Jurisdiction, len(h.Versions), first.From, last.From, strings.Join(names, ", "), len(last.Policy.Rules), len(last.Policy.Lists)), nil
}

// checkScenario validates and plans a scenario and checks every policy its
// borders name, resolved by package lab as run, measure and up resolve
// them: an embedded profile, or a file inside the scenario's folder; a
// policy that cannot be loaded is reported at the border that names it.
func checkScenario(sc *scenario.Scenario, embedded bool) (string, error) {
	spec, err := lab.FromScenario(sc, lab.Resolve{Embedded: embedded})
	if err != nil {
		return "", err
	}
	var errs []error
	checked := map[string]bool{}
	for _, b := range spec.Borders {
		if checked[b.Ref] {
			continue
		}
		checked[b.Ref] = true
		if err := lab.CheckBorder(b); err != nil {
			errs = append(errs, fmt.Errorf("border of %s: policy %q: %w", b.Name, b.Ref, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	plan := spec.Plan
	summary := fmt.Sprintf("scenario %s: %d jurisdictions, %d networks, %d hosts, %d sites, %d policies", sc.Name, len(plan.Jurisdictions), len(plan.Networks), len(plan.Hosts), len(plan.Sites), len(checked))
	if !plan.HasControl() {
		summary += "; " + lab.NoControl(sc.Name)
	}
	return summary, nil
}

// byteSize is a flag value in bytes, written as a number of bytes or with
// a KiB, MiB or GiB suffix.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size (want bytes, or e.g. 128MiB)", s)
	}
	*b = byteSize(n * mult)
	return nil
}

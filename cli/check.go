package cli

import (
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/policy"
	"github.com/splinter-lab/splinter/profiles"
	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("check", "validate scenario and policy files (or embedded ones by name)", runCheck)
}

func runCheck(e *env, args []string) error {
	fs := flags(e, "check", "FILE|NAME...")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return badInput("nothing to check: give scenario or policy files, or embedded names (%s; %v)", scenario.Default, profiles.Names())
	}
	var bad []error
	for _, arg := range fs.Args() {
		summary, err := check(arg)
		if err != nil {
			bad = append(bad, err)
			fmt.Fprintln(e.stderr, err)
			continue
		}
		fmt.Fprintf(e.stdout, "ok  %s: %s\n", arg, summary)
	}
	if len(bad) > 0 {
		return inputError{fmt.Errorf("%d of %d failed", len(bad), fs.NArg())}
	}
	return nil
}

// check validates one argument: an embedded scenario or profile name, or a
// scenario or policy file (told apart by their top-level keys).
func check(arg string) (string, error) {
	if _, err := os.Stat(arg); err != nil {
		for _, n := range scenario.Names() {
			if n == arg {
				return checkScenario(arg)
			}
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
	data, err := os.ReadFile(arg)
	if err != nil {
		return "", err
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		return "", fmt.Errorf("%s: not YAML: %v", arg, err)
	}
	if _, ok := top["jurisdictions"]; ok {
		return checkScenario(arg)
	}
	if _, ok := top["rules"]; ok {
		p, err := policy.LoadFile(arg)
		if err != nil {
			return "", err
		}
		return checkPolicy(p)
	}
	return "", fmt.Errorf("%s: neither a scenario (no jurisdictions:) nor a policy (no rules:)", arg)
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

// checkScenario validates a scenario, plans it, and checks every policy its
// borders name, resolved as run, measure and up resolve them.
func checkScenario(nameOrPath string) (string, error) {
	spec, err := lab.Load(nameOrPath)
	if err != nil {
		return "", err
	}
	var errs []error
	checked := map[*policy.Policy]bool{}
	for _, b := range spec.Borders {
		if checked[b.Policy] {
			continue
		}
		checked[b.Policy] = true
		if err := lab.CheckPolicy(b.Policy); err != nil {
			errs = append(errs, fmt.Errorf("border of %s: policy %q: %w", b.Name, b.Ref, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", err
	}
	plan := spec.Plan
	return fmt.Sprintf("scenario %s: %d jurisdictions, %d networks, %d hosts, %d sites, %d policies", spec.Scenario.Name, len(plan.Jurisdictions), len(plan.Networks), len(plan.Hosts), len(plan.Sites), len(checked)), nil
}

package cli

import (
	"fmt"

	"github.com/splinter-lab/splinter/scenario"
)

func init() {
	register("scenarios", "list the embedded scenarios, or a scenario's hosts", runScenarios)
}

func runScenarios(e *env, args []string) error {
	fs := flags(e, "scenarios", "[--hosts NAME|FILE]")
	hosts := fs.String("hosts", "", "list the hosts of this scenario (embedded name or file): name, jurisdiction, role, addresses")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if *hosts != "" {
		sc, err := openScenario(*hosts)
		if err != nil {
			return err
		}
		plan, err := sc.Plan()
		if err != nil {
			return inputError{err}
		}
		return plan.HostsTable(e.stdout)
	}
	for _, name := range scenario.Names() {
		sc, err := scenario.Embedded(name)
		if err != nil {
			return err
		}
		mark := ""
		if name == scenario.Default {
			mark = " (default)"
		}
		fmt.Fprintf(e.stdout, "%-14s %2d jurisdictions %4d sites%s  %s\n", name, len(sc.Jurisdictions), len(sc.Sites), mark, firstSentence(sc.Description))
	}
	return nil
}

// openScenario loads and validates an embedded scenario or a file; any
// problem is bad input.
func openScenario(nameOrPath string) (*scenario.Scenario, error) {
	sc, err := scenario.Open(nameOrPath)
	if err != nil {
		return nil, inputError{err}
	}
	return sc, nil
}

func firstSentence(s string) string {
	for i, r := range s {
		if r == '.' || r == '\n' {
			return s[:i+1]
		}
	}
	return s
}

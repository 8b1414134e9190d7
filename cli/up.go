//go:build linux

package cli

import (
	"fmt"

	"github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/portal"
	"github.com/splinter-lab/splinter/scenario"
)

// defaultState is where `splinter up` keeps its control socket, decision
// log and CA bundle, and where `splinter exec` looks for it.
const defaultState = "/run/splinter"

func init() {
	register("up", "run a world until interrupted, for programs started with exec", runUp)
}

func runUp(e *env, args []string) error {
	fs := flags(e, "up", "[--scenario NAME|FILE] [--at DATE] [--state DIR]")
	at := dateFlag(fs)
	scen := fs.String("scenario", scenario.Default, "scenario: an embedded name or a file")
	state := fs.String("state", defaultState, "directory for the control socket (control.sock), the decision log (decisions.jsonl) and the scenario CA (ca.pem)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	if err := portal.Check(); err != nil {
		return inputError{err}
	}
	spec, err := lab.Load(*scen)
	if err != nil {
		return err
	}
	sc := spec.Scenario
	// The state directory is ours (created 0700, or refused when another
	// user's or open to others), locked for this world, and the previous
	// world's decision log is kept (portal.State).
	st, err := portal.OpenState(*state)
	if err != nil {
		return inputError{err}
	}
	defer st.Close()
	sock := st.Path("control.sock")
	if r, err := portal.Dial(sock); err == nil {
		return fmt.Errorf("a world (scenario %s) is already up at %s", r.Scenario(), *state)
	}
	logFile, kept, err := st.CreateLog()
	if err != nil {
		return err
	}
	defer logFile.Close()
	logPath := logFile.Name()
	if kept != "" {
		fmt.Fprintf(e.stderr, "splinter up: kept the previous decision log as %s\n", st.Path(kept))
	}
	lb, err := spec.Start(e.ctx, lab.Options{At: at.t, Decisions: logFile, Keep: 10000})
	if err != nil {
		return err
	}
	defer lb.Close()
	w := lb.World()
	caPath := st.Path("ca.pem")
	if ca := w.CA(); ca != nil {
		if err := ca.WriteBundle(caPath); err != nil {
			return err
		}
	}
	local := portal.NewLocal(w)
	defer local.Close()
	srv, err := portal.Listen(sock, local, sc.Name)
	if err != nil {
		return err
	}
	defer srv.Close()

	if err := w.Plan().HostsTable(e.stdout); err != nil {
		return err
	}
	stateFlag := ""
	if *state != defaultState {
		stateFlag = " --state " + *state
	}
	client, site := exampleHostAndSite(w.Plan())
	fmt.Fprintf(e.stdout, "\nsplinter up: scenario %s, %d hosts, running until interrupted\n", sc.Name, len(w.Hosts()))
	printInForce(e.stdout, lb.Date(), lb.Versions())
	fmt.Fprintf(e.stdout, "  control socket  %s\n  decisions       %s\n  scenario CA     %s\n", sock, logPath, caPath)
	if h := lb.ControlHost(); h != nil && lb.ControlAddr().IsValid() {
		fmt.Fprintf(e.stdout, "  test helper     http://%s/ on %s\n", lb.ControlAddr(), h.Name())
	}
	fmt.Fprintf(e.stdout, "\nEnter a host (as root):\n")
	fmt.Fprintf(e.stdout, "  splinter exec%s --host %s -- curl https://%s/\n", stateFlag, client, site)
	fmt.Fprintf(e.stdout, "  splinter exec%s --host %s -- sh\n", stateFlag, client)
	<-e.ctx.Done()
	fmt.Fprintln(e.stderr, "splinter up: stopping")
	return lb.Log().Err()
}

// exampleHostAndSite picks a client behind a border with a policy, if
// there is one, and a site, for the hints up prints.
func exampleHostAndSite(p *scenario.Plan) (client, site string) {
	for _, h := range p.Hosts {
		if h.Role != scenario.RoleClient {
			continue
		}
		if client == "" {
			client = h.Name
		}
		if j := p.Jurisdiction(h.Jurisdiction); j != nil && j.Border.Policy != "" {
			client = h.Name
			break
		}
	}
	if len(p.Sites) > 0 {
		site = p.Sites[0].Domain
	}
	if client == "" && len(p.Hosts) > 0 {
		client = p.Hosts[0].Name
	}
	return client, site
}

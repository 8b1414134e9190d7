//go:build linux

package cli

import (
	"context"
	"encoding/json"
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
	state := fs.String("state", defaultState, "directory for the control socket (control.sock), the decision log (decisions.jsonl), the scenario CA (ca.pem) and the services' addresses (services.json)")
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
	sock := st.Path(sockName)
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
	// The scenario CA and the services' addresses, for programs run in
	// the world (services.json: lab.ServicesFile).
	caPath := st.Path(caName)
	if ca := w.CA(); ca != nil {
		if err := st.WriteFile(caName, ca.CertPEM(), 0o644); err != nil {
			return err
		}
	}
	services := lb.ServicesFile(caName)
	doc, err := json.MarshalIndent(services, "", "  ")
	if err != nil {
		return err
	}
	if err := st.WriteFile(servicesName, append(doc, '\n'), 0o644); err != nil {
		return err
	}
	local := portal.NewLocal(w)
	defer local.Close()
	srv, err := portal.Listen(sock, local, portal.ServerConfig{Scenario: sc.Name, Measure: upMeasure(lb, local)})
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
	fmt.Fprintf(e.stdout, "  control socket  %s\n  decisions       %s\n  scenario CA     %s\n  services        %s\n", sock, logPath, caPath, st.Path(servicesName))
	if services.TestHelper != "" {
		fmt.Fprintf(e.stdout, "  test helper     %s on %s\n", services.TestHelper, services.ControlHost)
	}
	if services.OONI.ProbeServices != "" {
		fmt.Fprintf(e.stdout, "  OONI services   %s\n", services.OONI.ProbeServices)
	}
	fmt.Fprintf(e.stdout, "\nEnter a host (as root; several programs may share one):\n")
	fmt.Fprintf(e.stdout, "  splinter exec%s --host %s -- curl https://%s/\n", stateFlag, client, site)
	fmt.Fprintf(e.stdout, "  splinter exec%s --host %s -- sh\n", stateFlag, client)
	fmt.Fprintf(e.stdout, "Measure from a host:\n  splinter measure%s --from %s https://%s/\n", stateFlag, client, site)
	<-e.ctx.Done()
	fmt.Fprintln(e.stderr, "splinter up: stopping")
	return lb.Log().Err()
}

// The files up writes in its state directory besides the decision log.
const (
	caName       = "ca.pem"
	servicesName = "services.json"
	sockName     = "control.sock"
)

// upMeasure is the control socket's measure request: a web_connectivity
// measurement from a host of the running world, as `splinter measure`
// makes in a world of its own (lab.Measure), with the lab's test helper as
// the control.
func upMeasure(lb *lab.Lab, local *portal.Local) func(ctx context.Context, host, url string) ([]byte, error) {
	return func(ctx context.Context, host, url string) ([]byte, error) {
		if local.Entered(host) {
			return nil, &portal.RequestError{BadInput: true, Msg: fmt.Sprintf("host %s is entered by a program (splinter exec): its packets go to that program's namespace, not to the host's own stack; measure from another host", host)}
		}
		m, err := lb.Measure(ctx, host, url)
		if err != nil {
			if lab.IsInput(err) {
				return nil, &portal.RequestError{BadInput: true, Msg: err.Error()}
			}
			return nil, err
		}
		return json.Marshal(m)
	}
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

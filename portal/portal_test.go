//go:build linux

package portal_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/splinter-lab/splinter/border"
	splab "github.com/splinter-lab/splinter/lab"
	"github.com/splinter-lab/splinter/portal"
	"github.com/splinter-lab/splinter/world"
)

// The test binary doubles as the real programs the tests run inside
// namespaces: an HTTP server (testServeEnv), an HTTP client (testGetEnv),
// a probe of the namespace (testProbeEnv), and a process that runs a
// namespace and gets killed (testDriverEnv).
const (
	testServeEnv  = "PORTAL_TEST_SERVE"
	testProbeEnv  = "PORTAL_TEST_PROBE"
	testDriverEnv = "PORTAL_TEST_DRIVER"
	testGetEnv    = "PORTAL_TEST_GET"
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(testServeEnv) != "":
		serve(os.Getenv(testServeEnv))
	case os.Getenv(testProbeEnv) != "":
		probe(strings.Fields(os.Getenv(testProbeEnv)))
	case os.Getenv(testDriverEnv) != "":
		drive()
	case os.Getenv(testGetEnv) != "":
		get(os.Getenv(testGetEnv))
	default:
		os.Exit(m.Run())
	}
}

// serve answers "/" with the host's name and "/bytes?n=N" with N bytes.
func serve(addr string) {
	zeros := make([]byte, 1<<20)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s\n", os.Getenv("SPLINTER_HOST"))
	})
	mux.HandleFunc("/bytes", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := w.Write(zeros[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("listening")
	http.Serve(ln, mux)
}

// get prints the body of an HTTP GET of url, or fails.
func get(url string) {
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	io.Copy(os.Stdout, resp.Body)
	resp.Body.Close()
	os.Exit(0)
}

// probe prints the namespace's interfaces and routes, then sends UDP
// datagrams and TCP connection attempts to each address given.
func probe(dsts []string) {
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		fmt.Printf("if %s\n", i.Name)
	}
	for _, f := range []string{"/proc/net/route", "/proc/net/ipv6_route"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n")[0:] {
			// /proc/net/route: Iface Destination ...; ipv6_route: ... Iface.
			if fl := strings.Fields(line); len(fl) > 9 && fl[0] != "Iface" {
				dev, dst := fl[0], fl[1]
				if strings.HasSuffix(f, "ipv6_route") {
					dev, dst = fl[9], fl[0]
				}
				fmt.Printf("route %s %s %s\n", filepath.Base(f), dst, dev)
			}
		}
	}
	sent := 0
	defer func() { fmt.Printf("sent %d\n", sent) }()
	for _, d := range dsts {
		for i := 0; i < 100; i++ {
			if c, err := net.Dial("udp", net.JoinHostPort(d, "9")); err == nil {
				if _, err := c.Write([]byte("splinter isolation probe")); err == nil {
					sent++
				}
				c.Close()
			}
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(d, "80"), 300*time.Millisecond)
		if err == nil {
			c.Close()
			fmt.Printf("connected %s\n", d)
		}
	}
}

// drive runs a namespace on cn-client-1 with a long sleep in it, prints the
// sleep's pid, and waits to be killed. Its world is its own ("local") or the
// one served on the control socket named by testDriverEnv.
func drive() {
	var wd portal.World
	if sock := os.Getenv(testDriverEnv); sock != "local" {
		r, err := portal.Dial(sock)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		wd = r
	} else {
		w, err := startWorld()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		wd = portal.NewLocal(w.World)
	}
	c := portal.Command(wd, "cn-client-1", "sleep", "60")
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(c.Process.Pid)
	c.Wait()
	os.Exit(3)
}

func needRoot(t testing.TB) {
	t.Helper()
	if err := portal.Check(); err != nil {
		t.Skipf("skipping: %v", err)
	}
}

func needProgram(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("skipping: %s is not installed", name)
	}
}

// testWorld is a running lab: its world, and the decisions of its borders.
type testWorld struct {
	*world.World
	l *splab.Lab
}

func (w *testWorld) Log() *border.Log { return w.l.Log() }
func (w *testWorld) Close() error     { return w.l.Close() }

// startWorld starts the lab world of testdata/lab.yaml, whose CN border
// applies testdata/lab-cn.yaml, as the command line starts a world.
func startWorld() (*testWorld, error) {
	l, err := splab.Start(context.Background(), "testdata/lab.yaml", splab.Options{})
	if err != nil {
		return nil, err
	}
	return &testWorld{World: l.World(), l: l}, nil
}

func lab(t testing.TB) (*testWorld, *portal.Local) {
	t.Helper()
	needRoot(t)
	w, err := startWorld()
	if err != nil {
		t.Fatal(err)
	}
	l := portal.NewLocal(w.World)
	t.Cleanup(func() {
		l.Close()
		w.Close()
	})
	return w, l
}

// run runs a program on host and returns its output and exit error.
func run(t testing.TB, wd portal.World, host string, env []string, name string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	c := portal.Command(wd, host, name, args...)
	c.Stdout, c.Stderr = &stdout, &stderr
	if env != nil {
		c.Env = append(os.Environ(), env...)
	}
	err := c.Run()
	return stdout.String(), stderr.String(), err
}

// startServer starts the test binary as an HTTP server on host and returns
// when it listens, with a function that stops it (also run at cleanup).
func startServer(t testing.TB, wd portal.World, host, addr string) (stop func()) {
	t.Helper()
	self, _ := os.Executable()
	pr, pw := io.Pipe()
	c := portal.Command(wd, host, self)
	c.Env = append(os.Environ(), testServeEnv+"="+addr)
	c.Stdout, c.Stderr = pw, os.Stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			c.Process.Signal(syscall.SIGTERM)
			c.Wait()
			pw.Close()
		})
	}
	t.Cleanup(stop)
	line := make([]byte, 64)
	n, _ := pr.Read(line)
	if !strings.Contains(string(line[:n]), "listening") {
		t.Fatalf("server on %s: %q", host, line[:n])
	}
	go io.Copy(io.Discard, pr)
	return stop
}

func decisions(l *border.Log, rule string) []border.Decision {
	var out []border.Decision
	for _, d := range l.Decisions() {
		if d.Rule == rule {
			out = append(out, d)
		}
	}
	return out
}

func TestNamespace(t *testing.T) {
	w, l := lab(t)
	h := w.Host("cn-client-1")
	out, errOut, err := run(t, l, "cn-client-1", nil, "sh", "-c",
		"hostname; cat /etc/resolv.conf; ls /sys/class/net; grep -c . /etc/ssl/certs/ca-certificates.crt; echo $SSL_CERT_FILE $SPLINTER_HOST")
	if err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	for _, want := range []string{"cn-client-1\n", "nameserver " + h.Resolvers()[0].String(), "lo\nsplinter0\n", "/etc/ssl/certs/ca-certificates.crt cn-client-1"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExitStatus(t *testing.T) {
	_, l := lab(t)
	_, _, err := run(t, l, "cn-client-1", nil, "sh", "-c", "exit 7")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("err %v, want exit status 7", err)
	}
	if _, _, err := run(t, l, "cn-client-1", nil, "no-such-program-splinter"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing program: %v", err)
	}
	if _, _, err := run(t, l, "nowhere-1", nil, "true"); err == nil || !strings.Contains(err.Error(), "no host") {
		t.Fatalf("missing host: %v", err)
	}
}

func TestCurlAcrossTheBorder(t *testing.T) {
	needProgram(t, "curl")
	w, l := lab(t)
	client := w.Host("cn-client-1")
	t.Run("allowed", func(t *testing.T) {
		out, errOut, err := run(t, l, "cn-client-1", nil, "curl", "-sS", "--max-time", "10", "https://www.freepress-herald.com/")
		if err != nil || !strings.Contains(out, "<title>") {
			t.Fatalf("curl: %v\n%s%s", err, out, errOut)
		}
	})
	t.Run("sni-blocked", func(t *testing.T) {
		_, errOut, err := run(t, l, "cn-client-1", nil, "curl", "-sS", "--max-time", "10", "https://www.tunnelgate-vpn.com/")
		if err == nil || !strings.Contains(strings.ToLower(errOut), "reset") {
			t.Fatalf("curl: %v, stderr %q; want a connection reset", err, errOut)
		}
		ds := decisions(w.Log(), "lab-sni-rst")
		if len(ds) == 0 || (ds[0].Client.Addr() != client.Addr(4) && ds[0].Client.Addr() != client.Addr(6)) || ds[0].Action != "rst" {
			t.Fatalf("decisions %+v", ds)
		}
	})
	t.Run("ipv6", func(t *testing.T) {
		out, errOut, err := run(t, l, "cn-client-1", nil, "curl", "-6", "-sS", "--max-time", "10", "https://www.freepress-herald.com/")
		if err != nil || !strings.Contains(out, "<title>") {
			t.Fatalf("curl -6: %v\n%s%s", err, out, errOut)
		}
	})
}

func TestDigForgedAnswer(t *testing.T) {
	needProgram(t, "dig")
	w, l := lab(t)
	out, errOut, err := run(t, l, "cn-client-1", nil, "dig", "+short", "+time=5", "+tries=1", "www.open-dissent.org", "A")
	if err != nil || strings.TrimSpace(out) != "198.18.99.1" {
		t.Fatalf("dig: %v %q %s", err, out, errOut)
	}
	if len(decisions(w.Log(), "lab-dns-inject")) == 0 {
		t.Fatal("no dns-inject decision")
	}
	out, _, _ = run(t, l, "cn-client-1", nil, "dig", "+short", "+time=5", "+tries=1", "www.freepress-herald.com", "A")
	if want := w.Host("web-www-freepress-herald-com").Addr(4).String(); strings.TrimSpace(out) != want {
		t.Fatalf("dig of an allowed name: %q, want %s", out, want)
	}
}

func TestOpenSSLSeesScenarioCA(t *testing.T) {
	needProgram(t, "openssl")
	w, l := lab(t)
	c := portal.Command(l, "cn-client-1", "openssl", "s_client", "-connect", "www.freepress-herald.com:443",
		"-servername", "www.freepress-herald.com", "-verify_return_error")
	var out bytes.Buffer
	c.Stdin, c.Stdout, c.Stderr = strings.NewReader(""), &out, &out
	if err := c.Run(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, out.String())
	}
	ca := w.CA().Certificate().Subject.CommonName // the root, at depth 1
	if !strings.Contains(out.String(), "Verify return code: 0 (ok)") || !strings.Contains(out.String(), "depth=1 O = "+ca) {
		t.Fatalf("openssl output lacks verification by %q:\n%s", ca, out.String())
	}
}

func TestServerReachedByName(t *testing.T) {
	needProgram(t, "curl")
	w, l := lab(t)
	startServer(t, l, "us-vps-1", ":8080")
	// The client attaches through a control socket, as `splinter exec`
	// does against `splinter up`.
	sock := filepath.Join(t.TempDir(), "control.sock")
	srv, err := portal.Listen(sock, l, portal.ServerConfig{Scenario: "portal-lab"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	remote, err := portal.Dial(sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://us-vps-1:8080/", "http://us-vps-1.hosts.splinter:8080/", "http://[" + w.Host("us-vps-1").Addr(6).String() + "]:8080/"} {
		out, errOut, err := run(t, remote, "cn-client-1", nil, "curl", "-sS", "--max-time", "10", url)
		if err != nil || out != "hello from us-vps-1\n" {
			t.Fatalf("curl %s: %v %q %s", url, err, out, errOut)
		}
	}
	// An in-process host reaches the exec'd server too.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+w.Host("us-vps-1").Addr(4).String()+":8080/", nil)
	resp, err := w.Host("cn-client-2").HTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello from us-vps-1\n" {
		t.Fatalf("in-process client got %q", body)
	}
}

// TestHelperReachedFromExec: a world that real programs join serves the
// test helper on its control host (splinter up starts it through package
// lab, as this test does), and a program exec'd in a client host reaches
// it: curl posts an oohelperd request and gets the helper's answer.
func TestHelperReachedFromExec(t *testing.T) {
	needProgram(t, "curl")
	w, l := lab(t)
	addr := w.l.ControlAddr()
	if !addr.IsValid() {
		t.Fatal("the lab serves no test helper")
	}
	req := `{"http_request":"http://www.freepress-herald.com/","http_request_headers":{},"tcp_connect":[]}`
	out, errOut, err := run(t, l, "cn-client-1", nil, "curl", "-sS", "--max-time", "20", "-H", "Content-Type: application/json", "--data", req, "http://"+addr.String()+"/")
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, errOut)
	}
	if !strings.Contains(out, `"dns"`) || !strings.Contains(out, `"http_request"`) {
		t.Fatalf("the helper's answer lacks its dns and http_request keys: %s", out)
	}
}

//go:build linux

package portal

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// childEnv marks the namespace's first process: the binary re-executed by
// Cmd.Start. It is removed from the program's environment.
const childEnv = "SPLINTER_PORTAL_CHILD"

// IfName is the name of the TUN device inside a namespace.
const IfName = "splinter0"

func init() {
	switch {
	case os.Getenv(nsEnv) != "":
		os.Exit(nsHelper())
	case os.Getenv(childEnv) != "":
		os.Unsetenv(childEnv)
		os.Exit(child())
	}
}

// child is the first process of a program's PID namespace: it joins the
// host's network and UTS namespaces (files 4 and 5; this runs in package
// init, where the main goroutine is locked to the main thread, so the
// thread that joins is the one that forks the program), sets up its own
// mount namespace, starts the program, and reaps until the program exits.
// It returns the exit status to use: the program's, 128+N if a signal N
// killed it, 125-127 if it could not be started.
func child() int {
	f := os.NewFile(3, "portal")
	fc, err := net.FileConn(f)
	f.Close() // fc is a close-on-exec duplicate
	if err != nil {
		fmt.Fprintf(os.Stderr, "splinter: namespace: %v\n", err)
		return 125
	}
	c := fc.(*net.UnixConn)
	var msg childMsg
	if _, err := recvMsg(c, &msg); err != nil || msg.Config == nil {
		return 125
	}
	fail := func(code int, format string, args ...any) int {
		sendMsg(c, childReply{Error: fmt.Sprintf(format, args...)})
		return code
	}
	for _, ns := range []struct {
		fd   int
		kind int
		name string
	}{{4, unix.CLONE_NEWNET, "network"}, {5, unix.CLONE_NEWUTS, "UTS"}} {
		err := unix.Setns(ns.fd, ns.kind)
		unix.Close(ns.fd)
		if err != nil {
			return fail(125, "portal: joining the host's %s namespace: %v", ns.name, err)
		}
	}
	certFile, err := setupFiles(msg.Config)
	if err != nil {
		return fail(125, "portal: files: %v", err)
	}
	path, err := exec.LookPath(msg.Path)
	if err != nil {
		return fail(127, "portal: %v", err)
	}
	env := os.Environ()
	for _, k := range []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "SPLINTER_CA"} {
		env = append(env, k+"="+certFile)
	}
	env = append(env, "SSL_CERT_DIR="+filepath.Dir(certFile), "SPLINTER_HOST="+msg.Config.Host)
	// Signals to pass on are caught before the program exists, so that
	// none is lost in between.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGINT, syscall.SIGQUIT)
	pid, err := syscall.ForkExec(path, msg.Args, &syscall.ProcAttr{Env: env, Files: []uintptr{0, 1, 2}})
	if err != nil {
		return fail(126, "portal: exec %s: %v", msg.Path, err)
	}
	sendMsg(c, childReply{})
	c.Close()
	go func() {
		for s := range sigs {
			// SIGINT and SIGQUIT come from the terminal, which sends
			// them to the program too: not passed on twice.
			if s != syscall.SIGINT && s != syscall.SIGQUIT {
				syscall.Kill(pid, s.(syscall.Signal))
			}
		}
	}()
	return reap(pid)
}

// reap waits for every process of the PID namespace until pid exits, and
// returns pid's exit status. When the namespace's first process returns,
// the kernel kills whatever is left in it.
func reap(pid int) int {
	for {
		var ws syscall.WaitStatus
		p, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 125 // no child left: cannot happen while pid runs
		case p != pid:
			continue
		case ws.Signaled():
			return 128 + int(ws.Signal())
		default:
			return ws.ExitStatus()
		}
	}
}

// certDirs are where systems keep their CA bundle and hashed certificates;
// the first that exists is covered by a tmpfs holding the scenario CA.
var certDirs = []string{"/etc/ssl/certs", "/etc/pki/tls/certs"}

// bundleFiles are other well-known bundle paths, covered by the scenario CA
// where they exist.
var bundleFiles = []string{"/etc/ssl/cert.pem", "/etc/pki/tls/cert.pem", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"}

// resolverSockets belong to the machine's caching resolvers, which would
// answer from the real network: they are hidden.
var resolverSockets = []string{"/run/systemd/resolve", "/run/nscd", "/var/run/nscd", "/var/lib/sss/pipes"}

func setupFiles(cfg *Config) (string, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return "", fmt.Errorf("making mounts private: %w", err)
	}
	dir := ""
	for _, d := range certDirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			dir = d
			break
		}
	}
	if dir == "" {
		return "", fmt.Errorf("no certificate directory to cover (%s)", strings.Join(certDirs, ", "))
	}
	if err := unix.Mount("splinter", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=16m"); err != nil {
		return "", fmt.Errorf("tmpfs on %s: %w", dir, err)
	}
	certFile := filepath.Join(dir, "ca-certificates.crt")
	if dir == "/etc/pki/tls/certs" {
		certFile = filepath.Join(dir, "ca-bundle.crt")
	}
	// Private files live in a subdirectory, which certificate loaders skip.
	priv := filepath.Join(dir, ".splinter")
	if err := os.Mkdir(priv, 0o755); err != nil {
		return "", err
	}
	nss, err := nsswitch()
	if err != nil {
		return "", err
	}
	files := []struct {
		name string
		data []byte
		over []string
	}{
		{filepath.Base(certFile), cfg.CA, nil},
		{".splinter/resolv.conf", cfg.resolvConf(), []string{"/etc/resolv.conf"}},
		{".splinter/hosts", cfg.hostsFile(), []string{"/etc/hosts"}},
		{".splinter/hostname", []byte(cfg.Host + "\n"), []string{"/etc/hostname"}},
		{".splinter/nsswitch.conf", nss, []string{"/etc/nsswitch.conf"}},
		{".splinter/ca.pem", cfg.CA, bundleFiles},
	}
	for _, f := range files {
		src := filepath.Join(dir, f.name)
		if err := os.WriteFile(src, f.data, 0o644); err != nil {
			return "", err
		}
		for _, target := range f.over {
			real, err := filepath.EvalSymlinks(target)
			if err != nil || strings.HasPrefix(real, dir+"/") {
				// Absent (a system without it), or already covered.
				if target == "/etc/resolv.conf" || target == "/etc/hosts" {
					return "", fmt.Errorf("cannot cover %s: %v", target, err)
				}
				continue
			}
			if err := unix.Mount(src, real, "", unix.MS_BIND, ""); err != nil {
				return "", fmt.Errorf("bind mount on %s: %w", real, err)
			}
		}
	}
	// A fresh sysfs shows the namespace's own devices in /sys/class/net;
	// where that is not allowed, the machine's stay visible (read-only
	// information, no route).
	unix.Mount("sysfs", "/sys", "sysfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	// A fresh /proc shows the PID namespace's own processes (and /proc/net
	// the host's network namespace); where that is not allowed, the
	// machine's stays.
	unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	for _, d := range resolverSockets {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			if err := unix.Mount("splinter", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=4k"); err != nil {
				return "", fmt.Errorf("hiding %s: %w", d, err)
			}
		}
	}
	return certFile, nil
}

// nsswitch returns the machine's nsswitch.conf with hosts looked up in
// /etc/hosts and DNS only.
func nsswitch() ([]byte, error) {
	old, err := os.ReadFile("/etc/nsswitch.conf")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var b bytes.Buffer
	for _, line := range strings.Split(string(old), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "hosts:" {
			continue
		}
		if line != "" {
			b.WriteString(line + "\n")
		}
	}
	b.WriteString("hosts: files dns\n")
	return b.Bytes(), nil
}

func setupNet(cfg *Config) (*os.File, error) {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return nil, err
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return nil, fmt.Errorf("lo up: %w", err)
	}
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	ifr, err := unix.NewIfreq(IfName)
	if err != nil {
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, fmt.Errorf("TUNSETIFF: %w", err)
	}
	link, err := netlink.LinkByName(IfName)
	if err != nil {
		return nil, err
	}
	mtu := cfg.MTU
	if mtu == 0 {
		mtu = MTU
	}
	steps := []step{
		{"mtu", func() error { return netlink.LinkSetMTU(link, mtu) }},
		{"multicast off", func() error { return netlink.LinkSetMulticastOff(link) }},
		{"no IPv6 link-local", func() error { return netlink.LinkSetIP6AddrGenMode(link, 1) }},
	}
	for _, a := range cfg.Addrs {
		bits := 32
		if a.Is6() {
			bits = 128
		}
		addr := &netlink.Addr{IPNet: ipnet(netip.PrefixFrom(a, bits)), Flags: unix.IFA_F_NODAD}
		steps = append(steps, step{"address " + a.String(), func() error { return netlink.AddrAdd(link, addr) }})
	}
	steps = append(steps, step{"up", func() error { return netlink.LinkSetUp(link) }})
	for _, a := range cfg.Addrs {
		dst := netip.MustParsePrefix("0.0.0.0/0")
		if a.Is6() {
			dst = netip.MustParsePrefix("::/0")
		}
		r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipnet(dst), Scope: netlink.SCOPE_LINK, Src: a.AsSlice()}
		steps = append(steps, step{"route " + dst.String(), func() error { return netlink.RouteAdd(r) }})
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			return nil, fmt.Errorf("%s %s: %w", IfName, s.what, err)
		}
	}
	ok = true
	return os.NewFile(uintptr(fd), "/dev/net/tun"), nil
}

type step struct {
	what string
	do   func() error
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

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
	if os.Getenv(childEnv) == "" {
		return
	}
	os.Unsetenv(childEnv)
	os.Exit(child())
}

// child runs in the new namespaces: it sets them up, hands the TUN device to
// the parent, and executes the program. It returns only on failure, with
// the exit status to use.
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
	tun, certFile, err := setup(msg.Config)
	if err != nil {
		sendMsg(c, childReply{Error: err.Error()})
		return 125
	}
	if err := sendMsg(c, childReply{}, int(tun.Fd())); err != nil {
		return 125
	}
	tun.Close()
	var rep childReply
	if _, err := recvMsg(c, &rep); err != nil || rep.Error != "" {
		return 125 // the parent gave up
	}
	path, err := exec.LookPath(msg.Path)
	if err != nil {
		sendMsg(c, childReply{Error: fmt.Sprintf("portal: %v", err)})
		return 127
	}
	env := os.Environ()
	for _, k := range []string{"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "GIT_SSL_CAINFO", "SPLINTER_CA"} {
		env = append(env, k+"="+certFile)
	}
	env = append(env, "SSL_CERT_DIR="+filepath.Dir(certFile), "SPLINTER_HOST="+msg.Config.Host)
	err = syscall.Exec(path, msg.Args, env)
	sendMsg(c, childReply{Error: fmt.Sprintf("portal: exec %s: %v", msg.Path, err)})
	return 126
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

// setup configures the namespaces for cfg and returns the TUN device and the
// path of the CA bundle.
func setup(cfg *Config) (*os.File, string, error) {
	certFile, err := setupFiles(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("portal: files: %w", err)
	}
	if err := unix.Sethostname([]byte(cfg.Host)); err != nil {
		return nil, "", fmt.Errorf("portal: hostname: %w", err)
	}
	tun, err := setupNet(cfg)
	if err != nil {
		return nil, "", fmt.Errorf("portal: network: %w", err)
	}
	return tun, certFile, nil
}

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
	tun := os.NewFile(uintptr(fd), "/dev/net/tun")
	ok := false
	defer func() {
		if !ok {
			tun.Close()
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
	return tun, nil
}

type step struct {
	what string
	do   func() error
}

func ipnet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

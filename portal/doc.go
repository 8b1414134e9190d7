// Package portal runs real, unmodified programs inside the emulated world.
// A program started with Command runs in the namespace of one host of the
// world: a network namespace whose only interfaces are loopback and a TUN
// device bridged into the host, so the program has the host's addresses,
// default routes through the TUN, the host's resolver in its resolv.conf
// and the scenario CA as its only trust anchor; its packets enter the world
// as the host's own, cross the same border gateways as in-process traffic
// and land in the same decision log.
//
// Portal owns four things: a host's namespace (made on first use, shared by
// every program on the host, detached when the last one leaves), the
// bridge between its TUN device and a world.Host (world.Host.Divert), each
// program's PID and mount namespaces, and the control socket through which
// a long-running world (`splinter up`) lets programs of other processes
// (`splinter exec`) enter its hosts and measures for them (`splinter
// measure --state`). It does not build worlds (package world does),
// measure (package probe does; the control socket only carries a hook that
// lab provides) nor decide anything about the packets it carries (package
// border does).
//
// # Worlds
//
// A World lets programs enter its hosts: Local runs the hosts' namespaces
// in this process; Remote asks another process's Server over a unix
// socket, which passes the namespaces' files with SCM_RIGHTS. Both
// implement World, so Command works the same against either. An Entry is a
// program's hold on a host's namespace; its Gone channel closes when the
// world goes away (a Server closed, a process killed), and Cmd then kills
// the program and Wait returns ErrWorldGone.
//
// # A host's namespace
//
// The first program to enter a host has its network and UTS namespaces
// made by a helper process: the current binary, re-executed through
// /proc/self/exe with CLONE_NEWNET|CLONE_NEWUTS and a marker in its
// environment (this package's init function recognises it). The helper
// sets the hostname, brings loopback up, makes the TUN device "splinter0"
// with the host's addresses (/32 and /128, no DAD), the world's MTU, no
// IPv6 link-local address, multicast off, and the only two routes besides
// loopback's: 0.0.0.0/0 and ::/0 through it; it passes the TUN device and
// the namespaces' files back and exits. The World holds them: the TUN is
// bridged into the host, and the namespace lives as long as some program
// holds an Entry of it. When the last lets go, the bridge closes, the host's
// own stack gets its packets back, and the namespace, never named in
// /run/netns, disappears with the files: nothing is left in `ip netns list`
// or `ip link`.
//
// # A program
//
// Each program's first process is the current binary again, re-executed
// with CLONE_NEWNS|CLONE_NEWPID: it is process 1 of a PID namespace of its
// own. In package init (where the main goroutine is locked to the main
// thread) it joins the host's network and UTS namespaces with setns(2) and
// sets up its mount namespace:
//
//   - mounts are made private, so nothing below propagates to the machine;
//   - a tmpfs covers the system certificate directory (/etc/ssl/certs or
//     /etc/pki/tls/certs) and holds the scenario CA as the only bundle;
//     other well-known bundle files are covered by bind mounts; the
//     program's environment points SSL_CERT_FILE, SSL_CERT_DIR,
//     CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS and
//     GIT_SSL_CAINFO at it;
//   - /etc/resolv.conf lists the host's resolvers; /etc/hosts names every
//     host of the world (sites are not listed: they resolve through the
//     world's DNS, where censors see the queries); nsswitch.conf's hosts
//     line becomes "files dns", and the sockets of the machine's caching
//     resolvers (systemd-resolved, nscd) are hidden, so names are never
//     resolved outside the world;
//   - a fresh sysfs and /proc show the namespace's own devices and the PID
//     namespace's own processes.
//
// It then starts the program (from the thread that joined) and stays as
// its reaper: it passes SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 on (SIGINT and
// SIGQUIT reach the program from the terminal), reaps orphans, and exits
// with the program's status (128+N if signal N killed it). When it exits,
// the kernel kills everything left in the PID namespace: what the program
// started in the background dies with it. It carries
// PR_SET_PDEATHSIG=SIGKILL, so if the process that ran Command dies, the
// program and its children die too.
//
// # Isolation
//
// The namespace has no interface besides loopback and the TUN, and no route
// but through the TUN. The bridge injects into the world only packets whose
// source is one of the host's addresses and whose destination is unicast;
// the world is a userspace program, so a packet to an address no host has
// dies at a world router. Nothing a program inside sends reaches the
// machine's interfaces. The namespace isolates the network, not the file
// system: unix sockets on the machine's file system remain reachable.
package portal

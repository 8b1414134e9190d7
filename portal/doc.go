// Package portal runs real, unmodified programs inside the emulated world.
// A program started with Command runs in a fresh network namespace whose
// only interfaces are loopback and a TUN device bridged into one host of the
// world: it has the host's addresses, default routes through the TUN, the
// host's resolver in its resolv.conf and the scenario CA as its only trust
// anchor, so its packets enter the world as the host's own, cross the same
// border gateways as in-process traffic and land in the same decision log.
//
// Portal owns three things: the namespace (made by re-executing the running
// binary as the namespace's first process, which configures it and then
// executes the program), the bridge between a TUN device and a world.Host
// (world.Host.Divert), and the control socket through which a long-running
// world (`splinter up`) accepts the TUN devices of namespaces made by other
// processes (`splinter exec`), passed with SCM_RIGHTS. It does not build
// worlds (package world does) nor decide anything about the packets it
// carries (package border does).
//
// # Worlds
//
// A World is where a namespace's TUN device is attached: Local bridges it
// into a world running in this process; Remote hands it to another process's
// Server over a unix socket. Both implement World, so Command works the same
// against either.
//
// # The namespace
//
// The first process of a namespace is the current binary, started through
// /proc/self/exe with CLONE_NEWNET|CLONE_NEWNS|CLONE_NEWUTS and a marker in
// its environment: this package's init function recognises the marker, sets
// the namespace up and never returns (it executes the program, or exits).
// Any binary that imports portal, including a test binary, can therefore
// start commands. Setup, in the child:
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
//   - the hostname is the host's name;
//   - loopback comes up; the TUN device "splinter0" gets the host's
//     addresses (/32 and /128, no DAD), the world's MTU, no IPv6 link-local
//     address, multicast off, and the only two routes besides loopback's:
//     0.0.0.0/0 and ::/0 through it.
//
// The child then passes the TUN's descriptor to its parent, which attaches
// it to the World, and executes the program once told to. The program's
// exit status is the command's. The child carries PR_SET_PDEATHSIG=SIGKILL,
// so if the parent dies the program dies with it, and the namespace, which
// was never named in /run/netns and whose devices live only as long as it
// does, disappears with its last process: nothing is left in `ip netns list`
// or `ip link`.
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

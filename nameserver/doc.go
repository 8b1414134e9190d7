// Package nameserver owns the DNS servers of the emulated world: the
// authoritative servers of the hierarchy (root, TLDs, site zones), built from
// typed [Zone] values, and recursive caching [Resolver]s, including the
// local-root mode of RFC 8806. [Serve] runs any dns.Handler on a
// net.PacketConn and a net.Listener handed out by the world's network
// stacks; [Exchange] and [Lookup] are the client side, over any [Dialer].
//
// The package opens no socket of its own. It does not censor: DNS injection
// and blocking belong to the censor engine, which relies on the behaviour
// documented on [Exchange] (the first matching UDP answer wins).
//
// DNS messages are miekg/dns types, used directly rather than wrapped: the
// world and the probes speak them too.
package nameserver

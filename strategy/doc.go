// Package strategy owns Geneva's strategy language and its application to
// packets: Parse reads strategy DNA (Bock et al., "Geneva: Evolving
// Censorship Evasion Strategies", CCS 2019) into a Strategy, String prints
// it back canonically, and an Engine applies it to the raw IPv4 and IPv6
// packets one host sends (Outbound) and receives (Inbound), emitting what
// Geneva would put on the wire in their place. It also offers what a
// genetic search over the language needs: random strategies, mutation,
// crossover and a size measure (evolve.go).
//
// It does not decide where packets go: the world hooks an Engine onto a
// host's packet path and sends what it emits (and, for a sleep action,
// what Options.Delay receives) onward; the next hop trims a packet to the
// IP total length it claims, as a real one would.
//
// It is written by hand because no Go implementation of Geneva exists;
// Geneva itself (github.com/Kkevsterrr/geneva, Python) runs each packet
// through NFQUEUE, scapy and a raw socket. Geneva is the reference for
// semantics, and each rule below cites the Geneva source file that shows
// it. What reaches the wire is what scapy builds: the packet is dissected
// from its bytes, so every field keeps its value unless an action deletes
// it, and scapy computes deleted fields at build time:
//
//   - every tamper deletes the IPv4 header checksum and the TCP checksum,
//     then sets its field (layers/packet.py: Packet.set), so both are
//     recomputed unless the tamper set that very checksum; the UDP
//     checksum and length are never recomputed (a tamper on a UDP packet
//     leaves its checksum stale);
//   - IP:len replaced: the packet keeps all its bytes, its IPv4 header
//     claims the new length with a correct header checksum, and the TCP
//     checksum is computed over every byte built but with a pseudo-header
//     length of len - 4*ihl (scapy/layers/inet.py: in4_pseudoheader);
//   - TCP:dataofs replaced: only the 4 bits change, the header is neither
//     padded nor cut;
//   - a TCP option tampered: the first option of that kind is replaced in
//     place, or the option is appended after the others; options are
//     padded with zeros to 4 bytes and the data offset, the TCP checksum,
//     the IP length and checksum are recomputed (layers/tcp_layer.py:
//     set_options); the data offset wraps past 15 as scapy's does;
//   - a load tampered: the payload is replaced (not the same length:
//     corrupt picks one of "", a DNS response, an HTTP request or 10
//     random letters and digits, layers/layer.py: gen_load) and the IP
//     length recomputed;
//   - a packet no tamper touched goes out byte for byte as it came (scapy
//     sends the bytes it dissected, scapy/packet.py: raw_packet_cache); once
//     a tamper touched it, its TCP header is rebuilt from the parsed
//     fields, which drops what follows an end-of-options byte;
//   - corrupt draws from Geneva's generators and scapy's fuzz(): fields
//     scapy leaves unfuzzed come out 0 (IP:ihl, UDP:len, UDP:chksum).
//
// Geneva never ran over IPv6. Here the TCP and UDP layers work on IPv6
// packets alike (checksums over the IPv6 pseudo-header), and the IP layer
// of an IPv6 packet offers the fields the two versions share: version, tos
// (traffic class), len (40 + payload length), ttl (hop limit), proto (next
// header), src, dst and load; the others are absent (a trigger on them
// does not match, a tamper does nothing), IPv4 addresses are not written
// into IPv6 packets, and fragment{ip} duplicates an IPv6 packet as Geneva
// duplicates a packet it cannot fragment.
//
// Geneva's DNS and DNSQR layers, the DNS compress tamper and the
// experimental trace action are not supported: Parse says so.
package strategy

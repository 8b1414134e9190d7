package profiles_test

// The list files under lists/ are generated from the default scenario's sites
// (which sites each censor blocks, by category and by name) plus deterministic
// filler names that size the lists like the real ones. TestListsGenerated
// fails when a file differs from what the generator makes; refresh them with
//
//	go test ./profiles -run TestListsGenerated -update

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splinter-lab/splinter/scenario"
)

var update = flag.Bool("update", false, "rewrite the generated list files")

// selection picks a censor's sites: every site of one of cats, plus
// include, minus exclude; sites hosted in the censor's own jurisdiction
// (home) are spared unless included by name.
type selection struct {
	cats    []string
	include []string
	exclude []string
	home    string
}

func (s selection) pick(plan *scenario.Plan) []*scenario.PlannedSite {
	jur := map[string]string{}
	for _, n := range plan.Networks {
		jur[n.Name] = n.Jurisdiction
	}
	var out []*scenario.PlannedSite
	for _, site := range plan.Sites {
		d := site.Domain
		in := slices.Contains(s.cats, site.Category) && jur[site.Network] != s.home
		if slices.Contains(s.include, d) {
			in = true
		}
		if slices.Contains(s.exclude, d) {
			in = false
		}
		if in {
			out = append(out, site)
		}
	}
	return out
}

// The censors' choices of sites. Categories follow what the literature
// reports each country blocking (OONI and Citizen Lab test-list results);
// names are the default scenario's.
var (
	cnSel = selection{
		cats:    []string{"NEWS", "POLR", "HUMR", "ANON", "COMT", "GRP", "MMED", "SRCH", "PORN", "GMB", "FILE", "LGBT", "HOST"},
		include: []string{"www.faith-and-reason.org"},
		exclude: []string{"www.bollywood-buzz.in", "www.tik-tak-videos.in", "www.desi-bazaar.in", "www.nama-video.ir",
			"www.medien-tausch.de", "www.suchmaschine-frei.de", "www.poisk-system.ru", "www.druzya-social.ru"},
		home: "CN",
	}
	// Henan blocks the GFW's names and more (S&P 2025: a larger, coarser list).
	henanSel = selection{
		cats:    []string{"NEWS", "POLR", "HUMR", "ANON", "COMT", "GRP", "MMED", "PORN", "GMB", "DATE", "FILE", "HACK", "COMM"},
		exclude: []string{"www.shopmart-online.com", "www.gadget-bazaar.com"},
		home:    "CN",
	}
	irSel = selection{
		cats:    []string{"NEWS", "POLR", "HUMR", "ANON", "GRP", "MMED", "PORN", "LGBT", "DATE", "GMB", "ALDR", "COMT", "PROV"},
		exclude: []string{"www.thames-observer.com", "www.noticias-do-sul.br", "www.bharat-samachar.in", "www.delhi-diary.in", "www.kashmir-today.in"},
		home:    "IR",
	}
	// What Iran lets through in its shutdowns (2025-26): the default
	// scenario's Google-like search site and its GitHub-Pages-like host.
	irAllowedSel = selection{include: []string{"www.findall-search.com", "www.pageforge-sites.net"}}
	// The TSPU's list (2022): exile media, Meta's and other banned social
	// networks, VPN sites.
	ruSel = selection{
		include: []string{"www.russia-free-media.com", "www.exile-tv-live.com", "www.facenook-social.com", "www.snapgram-stories.com",
			"www.tunnelgate-vpn.com", "www.vpn-bastion.net", "www.proxyfree-relay.net", "www.onionbridge-project.org",
			"www.rainbow-alliance.org", "www.queer-europa.org", "www.lucky-star-casino.com", "www.longform-magazine.com"},
	}
	// Roskomnadzor's register as ISPs enforce it from 2012 (NDSS 2020):
	// gambling, drugs and alcohol sales, extremism, piracy.
	ruRegistrySel = selection{
		cats:    []string{"GMB", "ALDR", "MILX", "HATE"},
		include: []string{"www.torrent-harbor.net"},
		home:    "RU",
	}
	// Telegram (2018): the default scenario's Telegram-like messenger.
	ruTelegramSel = selection{include: []string{"www.chatterbox-messenger.com"}}
	tmSel         = selection{
		cats:    []string{"NEWS", "POLR", "HUMR", "ANON", "COMT", "GRP", "MMED", "PORN", "GMB", "LGBT", "DATE", "FILE"},
		exclude: []string{"www.people-daily.cn", "www.huaxia-news.cn"},
		home:    "TM",
	}
	kzSel = selection{
		include: []string{"www.steppe-truth.org", "www.exile-tv-live.com", "www.russia-free-media.com", "www.lucky-star-casino.com",
			"www.betmaster-sports.net", "www.velvet-nights-adult.com", "www.midnight-tube-adult.net", "www.tunnelgate-vpn.com",
			"www.proxyfree-relay.net", "www.insurgent-watch.info"},
	}
	// Kazakhstan's 2019 interception targeted social networks and
	// messengers (a few dozen names).
	kzInterceptSel = selection{
		include: []string{"www.facenook-social.com", "www.snapgram-stories.com", "www.hashtag-square.com", "www.streamtube-video.com",
			"www.chatterbox-messenger.com", "www.circleup-network.com"},
	}
	airtelSel = selection{
		include: []string{"www.kashmir-monitor-online.com", "www.torrent-harbor.net", "www.velvet-nights-adult.com",
			"www.midnight-tube-adult.net", "www.lucky-star-casino.com", "www.world-football-bets.com", "www.anon-paste-bin.net",
			"www.cloudlocker-files.com", "www.proxyfree-relay.net"},
	}
	jioSel = selection{
		include: []string{"www.kashmir-monitor-online.com", "www.torrent-harbor.net", "www.velvet-nights-adult.com",
			"www.midnight-tube-adult.net", "www.anon-paste-bin.net", "www.datei-hafen.de", "www.tunnelgate-vpn.com"},
	}
)

func domains(sites []*scenario.PlannedSite) []string {
	var out []string
	for _, s := range sites {
		out = append(out, s.Domain)
	}
	return out
}

// registrable returns the last two labels of a name.
func registrable(d string) string {
	l := strings.Split(d, ".")
	return strings.Join(l[len(l)-2:], ".")
}

func regexOf(name string) string {
	return `(^|\.)` + strings.ReplaceAll(name, ".", `\.`) + `$`
}

var syllables = strings.Fields("ka lo mi ne ru sa ti vo za be do fu gi ha ju ke li mo nu pe qui ra se to vu wa xe yo zu ar el in on ur an en is os um")
var tlds = []string{"com", "net", "org", "info", "io", "tv", "me", "co", "biz", "xyz"}

// filler returns n distinct made-up registrable names, deterministically
// from seed, none of them a scenario site's.
func filler(seed uint64, n int, taken map[string]bool) []string {
	r := rand.New(rand.NewPCG(seed, 0xf111e5))
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var b strings.Builder
		for i, k := 0, 2+r.IntN(3); i < k; i++ {
			b.WriteString(syllables[r.IntN(len(syllables))])
		}
		if r.IntN(3) == 0 {
			b.WriteString("-")
			for i, k := 0, 2+r.IntN(2); i < k; i++ {
				b.WriteString(syllables[r.IntN(len(syllables))])
			}
		}
		name := b.String() + "." + tlds[r.IntN(len(tlds))]
		if seen[name] || taken[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

type listFile struct {
	path string
	head string // comment lines, without "# "
	body []string
}

func (l listFile) render() []byte {
	var b bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(l.head), "\n") {
		b.WriteString("# " + line + "\n")
	}
	b.WriteString("# Generated by lists_test.go (go test ./profiles -run TestListsGenerated -update); do not edit.\n")
	for _, s := range l.body {
		b.WriteString(s + "\n")
	}
	return b.Bytes()
}

// generatedLists builds every generated list file from the default scenario.
func generatedLists(t testing.TB) []listFile {
	sc, err := scenario.Embedded("splinternet")
	if err != nil {
		t.Fatal(err)
	}
	plan, err := sc.Plan()
	if err != nil {
		t.Fatal(err)
	}
	taken := map[string]bool{}
	for _, s := range plan.Sites {
		taken[registrable(s.Domain)] = true
	}
	regs := func(sites []*scenario.PlannedSite) []string {
		var out []string
		for _, s := range sites {
			if r := registrable(s.Domain); !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
		return out
	}
	regexes := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = regexOf(n)
		}
		return out
	}
	cn := cnSel.pick(plan)
	cnRegs := regs(cn)
	// GFWatch (USENIX Security 2021) found 311K censored names; the three
	// injectors' lists overlap but differ (FOCI 2020). We keep 12k filler
	// names in the HTTP/TLS list and 15k in the DNS lists.
	cnFill := filler(86, 15000, taken)
	var dns2, dns3 []string
	for i, n := range cnRegs {
		if i%3 != 2 {
			dns2 = append(dns2, n)
		}
		if i%2 == 0 {
			dns3 = append(dns3, n)
		}
	}
	// GFWatch's over-blocking: unanchored rules also hit innocent names
	// that end the same way ("notfindall-search.com").
	loose := []string{`findall-search\.com$`}
	var quic []string
	for _, s := range cn {
		if s.HTTP3 {
			quic = append(quic, registrable(s.Domain))
		}
	}
	out := []listFile{
		{"lists/cn-names.txt", "The GFW's HTTP Host and TLS SNI list (one list for both boxes; FOCI 2021).\nScenario sites the GFW blocks, then 12000 filler names.",
			append(slices.Clone(cnRegs), cnFill[:12000]...)},
		{"lists/gfw-dns-1.txt", "DNS injector #1's regexes (Triplet Censors, FOCI 2020; Wallbleed, NDSS 2025).\nEvery blocked site, loose rules, then 15000 filler names.",
			append(append(regexes(cnRegs), loose...), regexes(cnFill)...)},
		{"lists/gfw-dns-2.txt", "DNS injector #2's regexes: two thirds of the blocked sites and 10000 filler names.",
			append(regexes(dns2), regexes(cnFill[:10000])...)},
		{"lists/gfw-dns-3.txt", "DNS injector #3's regexes: half of the blocked sites and 5000 filler names.",
			append(regexes(dns3), regexes(cnFill[5000:10000])...)},
		{"lists/cn-quic.txt", "The GFW's QUIC SNI list: smaller than the TLS list (USENIX Security 2025);\nthe blocked sites that serve HTTP/3.", quic},
		{"lists/henan.txt", "The Henan provincial firewall's list for Host and SNI (S&P 2025): larger and coarser than the GFW's.\nScenario sites, then 20000 filler names.",
			append(regs(henanSel.pick(plan)), filler(371, 20000, taken)...)},
		{"lists/ir-names.txt", "Iran's DPI list for Host, SNI and DNS (WOOT 2021; OONI).\nScenario sites, then 8000 filler names.",
			append(domains(irSel.pick(plan)), filler(98, 8000, taken)...)},
		{"lists/ru-tspu.txt", "The TSPU's SNI list (IMC 2022 [unverified] composition).\nScenario sites, then 4000 filler names.",
			append(regs(ruSel.pick(plan)), filler(7, 4000, taken)...)},
		{"lists/tm-names.txt", "Turkmenistan's huge regex list for DNS, Host and SNI (WWW 2023).\nScenario sites, then 30000 filler names.",
			append(regexes(regs(tmSel.pick(plan))), regexes(filler(993, 30000, taken))...)},
		{"lists/kz-names.txt", "Kazakhstan's HTTP list (WOOT 2021 [composition unverified]).",
			append(domains(kzSel.pick(plan)), filler(77, 2000, taken)...)},
		{"lists/kz-intercept.txt", "Kazakhstan's 2019 interception list: a few dozen social and messaging names.",
			append(regs(kzInterceptSel.pick(plan)), filler(7719, 30, taken)...)},
		{"lists/in-airtel.txt", "Airtel's list (IMC 2018; 2020s court orders).", append(regs(airtelSel.pick(plan)), filler(9498, 4000, taken)...)},
		{"lists/in-jio.txt", "Jio's SNI list.", append(regs(jioSel.pick(plan)), filler(55836, 4000, taken)...)},
	}
	var dests []string
	for _, s := range jioSel.pick(plan) {
		for _, a := range s.Addrs {
			dests = append(dests, netip.PrefixFrom(a, a.BitLen()).String())
		}
	}
	out = append(out, listFile{"lists/in-jio-dests.txt", "Addresses Jio's filter applies to (SNI plus destination IP): the blocked sites' hosts.", dests})
	var telegram []string
	for _, s := range ruTelegramSel.pick(plan) {
		for _, a := range s.Addrs {
			telegram = append(telegram, netip.PrefixFrom(a, a.BitLen()).String())
		}
	}
	out = append(out,
		listFile{"lists/ru-registry.txt", "Roskomnadzor's unified register as ISPs enforce it (since 2012-11-01; NDSS 2020 [composition unverified]).\nScenario sites, then 3000 filler names.",
			append(regs(ruRegistrySel.pick(plan)), filler(1112, 3000, taken)...)},
		listFile{"lists/ru-telegram.txt", "Telegram's addresses blocked from 2018-04-16: the default scenario's Telegram-like messenger.", telegram})
	for _, s := range ruStandIns {
		out = append(out, listFile{s.path, s.head, networkPrefixes(t, plan, s.network)})
	}
	out = append(out,
		listFile{"lists/ru-mobile-shutdown.txt", "Mobile subscribers of a region under shutdown with an allowlist (since about 2025-09-01; net4people/bbs#516, #650):\n" +
			"the default scenario's ru-client-2, its one mobile subscriber (on ru-mts, AS8359, MTS's ASN; #650 met the allowlists on MTS).\n" +
			"The operator's resolver is not listed: its DNS keeps working (#516).", hostPrefixes(t, plan, "ru-client-2")},
		listFile{"lists/ru-mobile-allowed.txt", "Foreign destinations a mobile allowlist lets through (net4people/bbs#516: 8.8.8.8 answers, 1.1.1.1 and 9.9.9.9 do not):\n" +
			"the default scenario's us-public-resolver stands for 8.8.8.8, de-public-resolver for the others. The rest of the\n" +
			"allowlist is Russian (Yandex, VK, government sites): the default scenario's Russian sites, which never cross the border.", hostPrefixes(t, plan, "us-public-resolver")})
	var irAllowedAddrs []string
	for _, s := range irAllowedSel.pick(plan) {
		for _, a := range s.Addrs {
			irAllowedAddrs = append(irAllowedAddrs, netip.PrefixFrom(a, a.BitLen()).String())
		}
	}
	out = append(out,
		listFile{"lists/ir-allowed-dests.txt", "Foreign destinations Iran lets through in its shutdowns (net4people/bbs#484, 2025: 216.239.38.120, api.github.com):\n" +
			"the default scenario's search site (for Google's address) and its page-hosting site (for GitHub's API).", irAllowedAddrs},
		listFile{"lists/ir-allowed-names.txt", "Names Iran lets through when it filters by an SNI allowlist (net4people/bbs#489, 2025; bbs#561, 2026: chatgpt.com and a few others):\n" +
			"the default scenario's sites that stand for the allowlisted destinations, as in ir-allowed-dests.txt.", domains(irAllowedSel.pick(plan))},
		listFile{"lists/ir-mci-tci.txt", "Subscribers of MCI (AS197207) and TCI (AS58224), on whom the filter of June 2025 was harshest (net4people/bbs#489):\n" +
			"the default scenario's ir-mobile and ir-tci, which carry those ASNs.", append(networkPrefixes(t, plan, "ir-mobile"), networkPrefixes(t, plan, "ir-tci")...)},
		listFile{"lists/ir-mci.txt", "Subscribers of MCI (AS197207), where only allowlisted SNIs passed in January 2026 (net4people/bbs#561):\n" +
			"the default scenario's ir-mobile, which carries that ASN.", networkPrefixes(t, plan, "ir-mobile")},
		listFile{"lists/ir-allowed-sources.txt", "Source addresses Iran's 2026 allowlist lets out (net4people/bbs#630: about 0.017% of Iran's addresses; MCI's among them):\n" +
			"the default scenario's ISP resolvers (so that names resolve) and ir-mobile-client-1, for the allowlisted subscribers;\n" +
			"ir-client-1 stands for the rest, whose traffic abroad is dropped.", hostPrefixes(t, plan, "ir-tci-resolver", "ir-mobile-resolver", "ir-mobile-client-1")})
	return out
}

// hostPrefixes returns the addresses of the named hosts of plan, each as a
// one-address prefix.
func hostPrefixes(t testing.TB, plan *scenario.Plan, names ...string) []string {
	var out []string
	for _, name := range names {
		h := plan.Host(name)
		if h == nil {
			t.Fatalf("the default scenario has no host %s", name)
			return nil
		}
		for _, a := range h.Addrs {
			out = append(out, netip.PrefixFrom(a, a.BitLen()).String())
		}
	}
	return out
}

// ruStandIns are the networks of the default scenario that stand for the
// operators and hosting providers Russia's 2025 rules name. Two of them
// carry the provider's own ASN in the scenario; the others are chosen
// where the provider has a region and the scenario has no network of its
// ASN.
var ruStandIns = []struct{ path, head, network string }{
	{"lists/ru-cloudflare.txt", "Cloudflare's ranges (AS13335), frozen from Russia since 2025-06-09 (ntc.party via net4people/bbs#417):\n" +
		"the default scenario's us-hosting-west, the network with Cloudflare's ASN.", "us-hosting-west"},
	{"lists/ru-hetzner.txt", "Hetzner's ranges (AS24940), frozen from Russia since 2025-06-09 (ntc.party via net4people/bbs#417):\n" +
		"the default scenario's de-hosting, the network with Hetzner's ASN.", "de-hosting"},
	{"lists/ru-digitalocean.txt", "DigitalOcean's ranges (AS14061), frozen from Russia since 2025-06-09, from Rostelecom since 2025-10-27:\n" +
		"the default scenario's gb-hosting (AS20860) stands for them, as DigitalOcean's London region (LON1);\n" +
		"the scenario has no network with DigitalOcean's ASN.", "gb-hosting"},
	{"lists/ru-ovh.txt", "OVH's addresses (AS16276) where a UDP packet arms a 10-minute HTTPS block since 2025-05-28 (ntc.party/t/16713 via net4people/bbs#417):\n" +
		"the default scenario's in-hosting (AS133982) stands for them, as OVHcloud's Mumbai region;\n" +
		"the scenario has no network with OVH's ASN, and which of OVH's addresses arm the block is not published.", "in-hosting"},
	{"lists/ru-rostelecom.txt", "Rostelecom's subscribers (AS12389), spared the DigitalOcean freeze until 2025-10-27:\n" +
		"the default scenario's ru-rostelecom, the network with Rostelecom's ASN.", "ru-rostelecom"},
}

// networkPrefixes returns the prefixes of the named network of plan.
func networkPrefixes(t testing.TB, plan *scenario.Plan, name string) []string {
	n := plan.Network(name)
	if n == nil {
		t.Fatalf("the default scenario has no network %s", name)
		return nil
	}
	var out []string
	for _, p := range n.Prefixes {
		out = append(out, p.String())
	}
	return out
}

func TestListsGenerated(t *testing.T) {
	for _, l := range generatedLists(t) {
		want := l.render()
		if *update {
			if err := os.WriteFile(filepath.FromSlash(l.path), want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(filepath.FromSlash(l.path))
		if err != nil {
			t.Errorf("%s: %v (run with -update)", l.path, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (run go test ./profiles -run TestListsGenerated -update)", l.path)
		}
	}
}

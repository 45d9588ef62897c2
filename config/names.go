package config

import (
	"fmt"
	"slices"
	"strings"
)

// Egress rules may name their destination by DNS name. A jail whose
// policy names a host gets loginjail's own resolver, which answers only
// allowed names and opens the firewall for the addresses it hands out
// (netpolicy/names.go). Here: the syntax only.

// looksLikeName tells a DNS name apart from an address or CIDR: it has a
// letter or a "*" somewhere and no "/" (a CIDR) and no ":" (IPv6).
func looksLikeName(s string) bool {
	if strings.ContainsAny(s, "/:") {
		return false
	}
	return strings.ContainsFunc(s, func(r rune) bool {
		return r == '*' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
	})
}

// parseName checks a DNS name or a wildcard "*.domain" and returns it in
// lower case without a final dot. Labels are letters, digits, "-" and "_"
// (1-63 characters, no "-" at either end); the name has at most 253
// characters, and its last label is not all digits (that would read as an
// address), and there are two labels at least. A "*" may only be the whole first label.
func parseName(s string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(s, "."))
	if n == "" || len(n) > 253 {
		return "", fmt.Errorf("%q is not a DNS name (1 to 253 characters)", s)
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("%q is not a DNS name with a domain (want e.g. \"host.example.edu\")", s)
	}
	for i, l := range labels {
		if l == "*" && i == 0 && len(labels) > 1 {
			continue
		}
		if err := checkLabel(l); err != nil {
			return "", fmt.Errorf("%q is not a DNS name or \"*.domain\" wildcard: %s", s, err)
		}
	}
	last := labels[len(labels)-1]
	if strings.Trim(last, "0123456789") == "" {
		return "", fmt.Errorf("%q is not a DNS name: its last label %q is all digits", s, last)
	}
	return n, nil
}

func checkLabel(l string) error {
	if l == "" || len(l) > 63 {
		return fmt.Errorf("label %q: want 1 to 63 characters", l)
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %q starts or ends with \"-\"", l)
	}
	for _, c := range l {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			if c == '*' {
				return fmt.Errorf("label %q: \"*\" only as the whole first label", l)
			}
			return fmt.Errorf("label %q: character %q", l, c)
		}
	}
	return nil
}

// Names returns the DNS names and wildcards a list of allow or deny
// entries names, each once, in order. Entries must have been validated.
func Names(rules []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range rules {
		rs, err := ParseRules(s)
		if err != nil {
			continue
		}
		for _, r := range rs {
			if r.Name != "" && !seen[r.Name] {
				seen[r.Name] = true
				out = append(out, r.Name)
			}
		}
	}
	return out
}

// NameAccess is a name (or wildcard) a jail may reach, and on what.
type NameAccess struct {
	Name     string
	Services []string // "tcp/80", "udp/1000-2000"; empty: every protocol and port
}

// ReachableNames lists the names the resolved jail may reach through its
// resolver, in allow-list order, with their services merged per name;
// nil when the jail has no nat network or its allow list names no host.
func (r *Resolved) ReachableNames() []NameAccess {
	n := r.Jail.Network
	if n.Mode != "nat" {
		return nil
	}
	var out []NameAccess
	idx := map[string]int{}
	for _, s := range n.Allow {
		rs, err := ParseRules(s)
		if err != nil {
			continue
		}
		for _, rule := range rs {
			if rule.Name == "" {
				continue
			}
			i, ok := idx[rule.Name]
			if !ok {
				i = len(out)
				idx[rule.Name] = i
				out = append(out, NameAccess{Name: rule.Name})
			}
			if rule.Proto == "" {
				out[i].Services = append(out[i].Services, "any")
				continue
			}
			svc := strings.TrimPrefix(Rule{Proto: rule.Proto, PortLo: rule.PortLo, PortHi: rule.PortHi}.String(), ":")
			out[i].Services = append(out[i].Services, svc)
		}
	}
	return out
}

// writeNames prints, for check-config --user, the names the jail may
// reach and those its deny list refuses.
func (r *Resolved) writeNames(b *strings.Builder) {
	if r.Jail.Network.Mode != "nat" {
		return
	}
	reach, deny := r.ReachableNames(), Names(r.Jail.Network.Deny)
	if len(reach) == 0 && len(deny) == 0 {
		return
	}
	b.WriteString("# names (the jail's own resolver at its gateway answers only these; others get NXDOMAIN):\n")
	if len(reach) == 0 {
		b.WriteString("#   any name not denied; connections as the address rules allow\n")
	}
	for _, a := range reach {
		svcs := "any protocol and port"
		if !slices.Contains(a.Services, "any") {
			svcs = strings.Join(a.Services, ",")
		}
		fmt.Fprintf(b, "#   reach %s %s\n", a.Name, svcs)
	}
	for _, d := range deny {
		fmt.Fprintf(b, "#   refuse %s\n", d)
	}
}

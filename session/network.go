package session

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/netpolicy"
)

// NetworkFor is the NAT attachment a resolved policy asks for, or nil for
// network "none". Pure: the rules were validated when the config loaded.
func NetworkFor(cfg *config.Config, r *config.Resolved, id string) (*netpolicy.Spec, error) {
	n := r.Jail.Network
	switch n.Mode {
	case "none":
		return nil, nil
	case "nat":
	default:
		return nil, fmt.Errorf("network mode %q: want none or nat", n.Mode)
	}
	subnet, err := netip.ParsePrefix(n.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network subnet %q: %w", n.Subnet, err)
	}
	spec := &netpolicy.Spec{SessionID: id, Bridge: n.Bridge, Subnet: subnet, StateDir: netStateDir(cfg), DNS: dnsServers(n.DNS)}
	if n.Subnet6 != "" {
		if spec.Subnet6, err = netip.ParsePrefix(n.Subnet6); err != nil {
			return nil, fmt.Errorf("network subnet6 %q: %w", n.Subnet6, err)
		}
	}
	if spec.Allow, err = netRules(n.Allow, config.ParseRules); err != nil {
		return nil, err
	}
	if spec.Deny, err = netRules(n.Deny, config.ParseRules); err != nil {
		return nil, err
	}
	if spec.HostAllow, err = netRules(n.HostAllow, oneRule(config.ParseHostRule)); err != nil {
		return nil, err
	}
	return spec, nil
}

// netStateDir holds the IP pool's leases.
func netStateDir(cfg *config.Config) string { return filepath.Join(cfg.Server.StateDir, "net") }

func netRules(in []string, parse func(string) ([]config.Rule, error)) ([]netpolicy.Rule, error) {
	var out []netpolicy.Rule
	for _, s := range in {
		rs, err := parse(s)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out = append(out, netpolicy.Rule{Net: r.Prefix, Name: r.Name, Proto: r.Proto, PortLo: r.PortLo, PortHi: r.PortHi})
		}
	}
	return out, nil
}

func oneRule(parse func(string) (config.Rule, error)) func(string) ([]config.Rule, error) {
	return func(s string) ([]config.Rule, error) {
		r, err := parse(s)
		if err != nil {
			return nil, err
		}
		return []config.Rule{r}, nil
	}
}

// dnsServers parses the policy's dns list (validated at load).
func dnsServers(in []string) []netip.Addr {
	var out []netip.Addr
	for _, s := range in {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

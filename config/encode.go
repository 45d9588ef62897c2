package config

import (
	"fmt"
	"io"
	"strings"

	"github.com/BurntSushi/toml"
)

// EncodeTOML prints the resolved jail as TOML: a comment naming the policy
// and where it is defined ("# policy: NAME (FILE:LINE)", or "# policy: none"
// when the [jail] table applies unchanged), then the [jail],
// [jail.network] and [jail.limits] tables with every key. Sizes print as
// strings ("512M"), so the output loads back as a configuration file.
func (r *Resolved) EncodeTOML(w io.Writer) error {
	src := r.source
	if src == "" {
		src = "<unknown>"
	}
	oneLine := strings.NewReplacer("\n", " ", "\r", " ")
	var head string
	if r.Policy == "" {
		head = fmt.Sprintf("# policy: none (the [jail] table of %s)\n", oneLine.Replace(src))
	} else {
		head = fmt.Sprintf("# policy: %s (%s:%d)\n", oneLine.Replace(r.Policy), oneLine.Replace(src), r.Line)
	}
	if _, err := io.WriteString(w, head); err != nil {
		return fmt.Errorf("encode resolved policy: %w", err)
	}
	doc := struct {
		Jail Jail `toml:"jail"`
	}{r.Jail}
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode resolved policy: %w", err)
	}
	return nil
}

// dumpPolicy is a [[policy]] as Config.EncodeTOML prints it: its match
// lists, and as [policy.jail] the whole jail it gives, not only the keys
// it overrides.
type dumpPolicy struct {
	Name           string   `toml:"name"`
	MatchUsers     []string `toml:"match_users"`
	MatchGroups    []string `toml:"match_groups"`
	MatchAddresses []string `toml:"match_addresses"`
	Jail           Jail     `toml:"jail"`
}

// EncodeTOML prints the effective configuration, as `check-config --dump`
// does (the counterpart of `sshd -T`): every key of [server], [jail],
// [jail.network] and [jail.limits] with the value that applies, defaults
// included, then every [[policy]] with its match lists and, as its
// [policy.jail], the complete jail it gives. The output loads back (Parse)
// to a configuration that gives every login the same jail.
func (c *Config) EncodeTOML(w io.Writer) error {
	src := strings.NewReplacer("\n", " ", "\r", " ").Replace(c.Source)
	if _, err := fmt.Fprintf(w, "# effective configuration of %s\n", src); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	doc := struct {
		Server   Server       `toml:"server"`
		Jail     Jail         `toml:"jail"`
		Policies []dumpPolicy `toml:"policy"`
	}{Server: c.Server, Jail: c.Jail}
	for i, p := range c.Policies {
		doc.Policies = append(doc.Policies, dumpPolicy{
			Name: p.Name, MatchUsers: nonNil(p.MatchUsers), MatchGroups: nonNil(p.MatchGroups),
			MatchAddresses: nonNil(p.MatchAddresses), Jail: c.PolicyJail(i),
		})
	}
	enc := toml.NewEncoder(w)
	enc.Indent = ""
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("encode config: %w", err)
	}
	return nil
}

// nonNil makes an absent list print as [] instead of not at all, so the
// dump shows every key.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

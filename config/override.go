package config

import (
	"reflect"
	"slices"
	"strings"
)

// hasKey reports whether the dotted key is set in tree.
func hasKey(tree map[string]any, key string) bool {
	parts := strings.Split(key, ".")
	for i, part := range parts {
		v, ok := tree[part]
		if !ok {
			return false
		}
		if i == len(parts)-1 {
			return true
		}
		if tree, ok = v.(map[string]any); !ok {
			return false
		}
	}
	return false
}

// applyOverride applies a [policy.jail] table, already checked by Load, onto j.
func applyOverride(j *Jail, override map[string]any) {
	d := &decoder{index: lineIndex{}, errs: &errorList{}}
	d.table(override, reflect.ValueOf(j).Elem(), at{})
}

// clone returns a deep copy of j: the slices are not shared.
func (j Jail) clone() Jail {
	j.Hide = slices.Clone(j.Hide)
	j.CapsAdd = slices.Clone(j.CapsAdd)
	j.CapsDrop = slices.Clone(j.CapsDrop)
	j.SeccompDeny = slices.Clone(j.SeccompDeny)
	j.Network.DNS = slices.Clone(j.Network.DNS)
	j.Network.Allow = slices.Clone(j.Network.Allow)
	j.Network.Deny = slices.Clone(j.Network.Deny)
	j.Network.HostAllow = slices.Clone(j.Network.HostAllow)
	return j
}

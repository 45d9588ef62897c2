package session

import "strings"

// MergeEnv returns base with each layer's NAME=value applied in order, a
// later layer replacing an earlier value of the same name.
func MergeEnv(base []string, layers ...[]string) []string {
	out := append([]string(nil), base...)
	idx := map[string]int{}
	for i, kv := range out {
		k, _, _ := strings.Cut(kv, "=")
		idx[k] = i
	}
	for _, l := range layers {
		for _, kv := range l {
			k, _, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				continue
			}
			if i, seen := idx[k]; seen {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

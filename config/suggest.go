package config

// nearestKey returns the key of known (or of also) closest to the
// misspelt key, when it is close enough to be what the author meant (an
// edit distance of at most a third of the key's length, and at most 3),
// or "".
func nearestKey(key string, known map[string]int, also ...string) string {
	best, bestD := "", 0
	limit := min(3, max(1, len(key)/3))
	cands := also
	for k := range known {
		cands = append(cands, k)
	}
	for _, k := range cands {
		d := editDistance(key, k)
		if d > limit {
			continue
		}
		if best == "" || d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, counting an
// adjacent transposition as one edit ("max_auth_tires").
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

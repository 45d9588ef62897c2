package subid

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// nsswitchFile is where the subid: source is named.
const nsswitchFile = "/etc/nsswitch.conf"

// nssSource returns the source of the subid: line of an nsswitch.conf
// ("" without one, or when it names only "files", which Go reads itself).
// libsubid uses the first word only, and so does this.
func nssSource(path string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read subid source: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		key, rest, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(key) != "subid" {
			continue
		}
		words := strings.Fields(rest)
		if len(words) == 0 || words[0] == "files" {
			return "", nil
		}
		return words[0], nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return "", nil
}

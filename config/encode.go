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

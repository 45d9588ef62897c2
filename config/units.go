package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in TOML as a Go duration string:
// "30s", "2m", "1h30m". Negative durations are rejected.
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string such as "2m" or "1h30m".
func (d *Duration) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	if s == "0" {
		d.Duration = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"30s\", \"2m\" or \"1h30m\"", string(text))
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", string(text))
	}
	d.Duration = v
	return nil
}

// MarshalText prints the duration in its compact form: "2m", "1h30m", "0s".
func (d Duration) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// String returns the compact form of the duration, without the zero
// minutes and seconds that time.Duration.String adds ("2m", not "2m0s").
func (d Duration) String() string {
	s := d.Duration.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Size is a number of bytes, written in TOML as a string with an optional
// binary unit ("512M", "1G", "64k", "100"; K, M, G, T are powers of 1024,
// case-insensitive, optionally followed by "B" or "iB") or as an integer.
type Size int64

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

// ParseSize parses a size string such as "512M" into bytes.
func ParseSize(text string) (Size, error) {
	bad := fmt.Errorf("%q is not a size like \"512M\", \"1G\" or \"64k\"", text)
	u := strings.ToUpper(strings.TrimSpace(text))
	needUnit := false
	if strings.HasSuffix(u, "IB") {
		u, needUnit = strings.TrimSuffix(u, "IB"), true
	} else {
		u = strings.TrimSuffix(u, "B")
	}
	var shift uint
	for _, unit := range sizeUnits {
		if strings.HasSuffix(u, unit.suffix) {
			u, shift = strings.TrimSuffix(u, unit.suffix), unit.shift
			break
		}
	}
	if u == "" || (needUnit && shift == 0) || strings.TrimLeft(u, "0123456789") != "" {
		return 0, bad
	}
	n, err := strconv.ParseUint(u, 10, 63)
	if err != nil || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("%q is too large", text)
	}
	return Size(n << shift), nil
}

// UnmarshalText parses a size string; see [ParseSize].
func (s *Size) UnmarshalText(text []byte) error {
	v, err := ParseSize(string(text))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// MarshalText prints the size in its compact form; see [Size.String].
func (s Size) MarshalText() ([]byte, error) {
	return []byte(s.String()), nil
}

// String prints the size with the largest unit that divides it exactly:
// "512M", "1G", "1536M", "100", "0".
func (s Size) String() string {
	if s == 0 {
		return "0"
	}
	if s > 0 {
		for _, u := range sizeUnits {
			if s%(1<<u.shift) == 0 {
				return strconv.FormatInt(int64(s)>>u.shift, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

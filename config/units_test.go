package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want Size
		bad  bool
	}{
		{in: "0", want: 0},
		{in: "100", want: 100},
		{in: "100B", want: 100},
		{in: "64k", want: 64 << 10},
		{in: "64K", want: 64 << 10},
		{in: "64KB", want: 64 << 10},
		{in: "64KiB", want: 64 << 10},
		{in: "64kib", want: 64 << 10},
		{in: "512M", want: 512 << 20},
		{in: "1G", want: 1 << 30},
		{in: "1GiB", want: 1 << 30},
		{in: "2T", want: 2 << 40},
		{in: " 1G ", want: 1 << 30},
		{in: "", bad: true},
		{in: "M", bad: true},
		{in: "1.5G", bad: true},
		{in: "-1", bad: true},
		{in: "+1", bad: true},
		{in: "1X", bad: true},
		{in: "1iB", bad: true},
		{in: "1 G", bad: true},
		{in: "99999999999T", bad: true},
		{in: "99999999999999999999", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{
		{0, "0"},
		{100, "100"},
		{1024, "1K"},
		{1536, "1536"},
		{512 << 20, "512M"},
		{1536 << 20, "1536M"},
		{1 << 30, "1G"},
		{3 << 40, "3T"},
		{1<<20 + 1, "1048577"},
	}
	for _, tt := range tests {
		b, err := tt.in.MarshalText()
		if err != nil || string(b) != tt.want {
			t.Errorf("Size(%d).MarshalText() = %q, %v; want %q", int64(tt.in), b, err, tt.want)
		}
		var back Size
		if err := back.UnmarshalText(b); err != nil || back != tt.in {
			t.Errorf("round trip of %d: got %d, %v", int64(tt.in), int64(back), err)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in    string
		want  time.Duration
		print string
		bad   bool
	}{
		{in: "0", want: 0, print: "0s"},
		{in: "0s", want: 0, print: "0s"},
		{in: "30s", want: 30 * time.Second, print: "30s"},
		{in: "2m", want: 2 * time.Minute, print: "2m"},
		{in: "1h", want: time.Hour, print: "1h"},
		{in: "1h30m", want: 90 * time.Minute, print: "1h30m"},
		{in: "1h0m5s", want: time.Hour + 5*time.Second, print: "1h0m5s"},
		{in: "1.5s", want: 1500 * time.Millisecond, print: "1.5s"},
		{in: "250ms", want: 250 * time.Millisecond, print: "250ms"},
		{in: "-1s", bad: true},
		{in: "2", bad: true},
		{in: "soon", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalText([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("UnmarshalText(%q) = %v, want error", tt.in, d)
			}
			continue
		}
		if err != nil || d.Duration != tt.want {
			t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tt.in, d.Duration, err, tt.want)
			continue
		}
		b, _ := d.MarshalText()
		if string(b) != tt.print {
			t.Errorf("MarshalText(%v) = %q, want %q", tt.want, b, tt.print)
		}
	}
}

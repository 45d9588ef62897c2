package config

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestParseRule(t *testing.T) {
	p := netip.MustParsePrefix
	tests := []struct {
		in   string
		want Rule
		bad  bool
	}{
		{in: "10.0.0.0/8", want: Rule{Prefix: p("10.0.0.0/8")}},
		{in: "192.0.2.1", want: Rule{Prefix: p("192.0.2.1/32")}},
		{in: "tcp/443", want: Rule{Proto: "tcp", PortLo: 443, PortHi: 443}},
		{in: "udp/1000-2000", want: Rule{Proto: "udp", PortLo: 1000, PortHi: 2000}},
		{in: "192.0.2.1:udp/53", want: Rule{Prefix: p("192.0.2.1/32"), Proto: "udp", PortLo: 53, PortHi: 53}},
		{in: "198.51.100.0/24:tcp/80-81", want: Rule{Prefix: p("198.51.100.0/24"), Proto: "tcp", PortLo: 80, PortHi: 81}},
		{in: "", bad: true},
		{in: "tcp", bad: true},
		{in: "tcp/", bad: true},
		{in: "tcp/65536", bad: true},
		{in: "tcp/0", bad: true},
		{in: "tcp/+1", bad: true},
		{in: "sctp/1", bad: true},
		{in: "1.2.3.4:", bad: true},
		{in: "1.2.3.4:tcp", bad: true},
		{in: "10.0.0.1/8", bad: true},
		{in: "2001:db8::/32", bad: true},
		{in: "::1", bad: true},
		{in: "example.com:tcp/80", want: Rule{Name: "example.com", Proto: "tcp", PortLo: 80, PortHi: 80}},
		{in: "*.debian.org:tcp/80", want: Rule{Name: "*.debian.org", Proto: "tcp", PortLo: 80, PortHi: 80}},
		{in: "moodle.example.edu", want: Rule{Name: "moodle.example.edu"}},
		{in: "a.*.org", bad: true},
		{in: "*", bad: true},
		{in: "-a.org", bad: true},
		{in: "a..org", bad: true},
		{in: "host", bad: true},
		{in: "1.2.3", bad: true},
		{in: "exa mple.org", bad: true},
		{in: "example.com:", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseRule(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseRule(%q) = %+v, want error", tt.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseRule(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.in {
			t.Errorf("ParseRule(%q).String() = %q", tt.in, s)
		}
	}
	if _, err := ParseHostRule("udp/53"); err != nil {
		t.Errorf("ParseHostRule(udp/53): %v", err)
	}
	if _, err := ParseHostRule("10.0.0.1:udp/53"); err == nil {
		t.Errorf("ParseHostRule with an address: no error")
	}
}

func TestParseRules(t *testing.T) {
	got, err := ParseRules("*.Debian.org:tcp/80,443")
	want := []Rule{{Name: "*.debian.org", Proto: "tcp", PortLo: 80, PortHi: 80}, {Name: "*.debian.org", Proto: "tcp", PortLo: 443, PortHi: 443}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseRules = %+v, %v; want %+v", got, err, want)
	}
	got, err = ParseRules("192.0.2.1:udp/53,1000-1001")
	if err != nil || len(got) != 2 || got[1].PortLo != 1000 || got[1].PortHi != 1001 {
		t.Errorf("ParseRules with a range = %+v, %v", got, err)
	}
	for _, bad := range []string{"a.org:tcp/80,", "a.org:tcp/80,0", "a.org:tcp/,80"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("ParseRules(%q): no error", bad)
		}
	}
	if n := Names([]string{"a.org:tcp/80", "10.0.0.0/8", "a.org:tcp/443", "*.b.org"}); !reflect.DeepEqual(n, []string{"a.org", "*.b.org"}) {
		t.Errorf("Names = %q", n)
	}
}

func TestParseMaxStartups(t *testing.T) {
	tests := []struct {
		in                string
		start, rate, full int
		bad               bool
	}{
		{in: "10:30:100", start: 10, rate: 30, full: 100},
		{in: "10", start: 10, rate: 100, full: 10},
		{in: "1:100:1", start: 1, rate: 100, full: 1},
		{in: "0", bad: true},
		{in: "", bad: true},
		{in: "10:30", bad: true},
		{in: "10:0:100", bad: true},
		{in: "10:101:100", bad: true},
		{in: "100:30:10", bad: true},
		{in: "-1:30:100", bad: true},
		{in: "a:b:c", bad: true},
	}
	for _, tt := range tests {
		s, r, f, err := ParseMaxStartups(tt.in)
		if tt.bad != (err != nil) || !tt.bad && (s != tt.start || r != tt.rate || f != tt.full) {
			t.Errorf("ParseMaxStartups(%q) = %d, %d, %d, %v", tt.in, s, r, f, err)
		}
	}
}

func TestAuthorizedKeysFiles(t *testing.T) {
	tests := []struct {
		spec string
		want []string
	}{
		{".ssh/authorized_keys", []string{"/home/al/.ssh/authorized_keys"}},
		{".ssh/authorized_keys /etc/keys/%u %h/k2", []string{"/home/al/.ssh/authorized_keys", "/etc/keys/al", "/home/al/k2"}},
		{"/etc/keys/100%%", []string{"/etc/keys/100%"}},
		{"none", nil},
	}
	for _, tt := range tests {
		s := Server{AuthorizedKeysFile: tt.spec}
		if got := s.AuthorizedKeysFiles("al", "/home/al"); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %q, want %q", tt.spec, got, tt.want)
		}
		if err := checkAuthorizedKeysFile(tt.spec); err != nil {
			t.Errorf("%q: %v", tt.spec, err)
		}
	}
	for _, bad := range []string{"", "  ", "%x", "keys%"} {
		if err := checkAuthorizedKeysFile(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParse(t *testing.T) {
	c, err := Parse("stdin", []byte("[jail]\nshare = \"user\"\n"))
	if err != nil || c.Jail.Share != "user" || c.Source != "stdin" {
		t.Fatalf("got %+v, %v", c, err)
	}
	if _, err := Parse("stdin", []byte("[jail]\nshare = 1\n")); err == nil || err.Error() != "stdin:2: jail.share: expected a string, got an integer" {
		t.Errorf("got %v", err)
	}
}

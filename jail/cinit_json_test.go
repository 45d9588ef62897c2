package jail

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCinitParsesWhatGoSends: every request shape the caller sends, with
// strings encoding/json escapes in every way it does, reads back the same
// through the C init's parser.
func TestCinitParsesWhatGoSends(t *testing.T) {
	odd := "é \u2028 <>& \"q\" \\ \t\n\x01 😀 \xff"
	tio := &unix.Termios{Iflag: 0x500, Oflag: 5, Cflag: 0xbf, Lflag: 0x8a3b, Line: 1, Ispeed: 38400, Ospeed: 38400}
	for i := range tio.Cc {
		tio.Cc[i] = uint8(i * 13)
	}
	for _, m := range []*message{
		{Type: msgSpawn, ID: 1, Spawn: &ProcSpec{Argv: []string{"sh", "-c", odd}, Arg0: "-sh", Env: []string{"A=" + odd, "PATH=/bin"},
			Dir: "/home/ü", UID: 1000, GID: 4294967295, Pty: true, Rows: 24, Cols: 65535, Termios: tio}},
		{Type: msgSpawn, ID: 2, Spawn: &ProcSpec{Argv: []string{"sftp-server"}, Self: true}},
		{Type: msgSignal, ID: 1<<63 + 5, Pid: 42, Signal: 15},
		{Type: msgDial, ID: 3, Net: &NetRequest{Network: "tcp", Addr: "[::1]:22"}},
		{Type: msgListen, ID: 4, Net: &NetRequest{Network: "unix", UID: 1000, GID: 1000}},
		{Type: msgStop, Grace: 2500},
	} {
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cinitParse(b)
		if err != nil {
			t.Errorf("%s: %v", b, err)
			continue
		}
		want := *m
		if m.Spawn != nil {
			sp := *m.Spawn
			// Invalid UTF-8 arrives as U+FFFD, as Go's own decoder has it.
			for i, a := range sp.Argv {
				sp.Argv[i] = strings.ToValidUTF8(a, "\uFFFD")
			}
			for i, e := range sp.Env {
				sp.Env[i] = strings.ToValidUTF8(e, "\uFFFD")
			}
			if sp.Termios != nil {
				tc := *sp.Termios
				tc.Ispeed, tc.Ospeed = 0, 0 // TCSETS reads none
				sp.Termios = &tc
			}
			want.Spawn = &sp
		}
		if !reflect.DeepEqual(got, &want) {
			t.Errorf("%s:\n got %+v %+v\nwant %+v %+v", b, got, got.Spawn, &want, want.Spawn)
		}
	}
}

// TestCinitRejectsMalformed: input outside the protocol's shapes is an
// error, never a crash or a half-read request.
func TestCinitRejectsMalformed(t *testing.T) {
	deep := strings.Repeat(`{"x":`, 20) + "1" + strings.Repeat("}", 20)
	for _, in := range []string{
		``, `{`, `[]`, `{"type":"stop"`, `{"type":"stop"}x`, `{"id":1}`, `{"type":1}`,
		`{"type":"stop","id":1.5}`, `{"type":"stop","id":-1}`, `{"type":"stop","id":99999999999999999999}`,
		`{"type":"signal","pid":2147483648}`, `{"type":"spawn","spawn":{"argv":["a\u0000b"]}}`,
		`{"type":"spawn","spawn":{"argv":["a` + "\x01" + `"]}}`, `{"type":"x\q"}`, `{"type":"\u12"}`,
		`{"type":"spawn","spawn":{"argv":"sh"}}`, `{"type":"spawn","spawn":{"pty":yes}}`,
		`{"type":"spawn","spawn":{"termios":{"Cc":[1,2]}}}`, `{"type":"stop","x":` + deep + `}`,
		`{"type":"stop",}`, `{"type" "stop"}`, `{"type":"stop","grace_ms":-5}`,
	} {
		if m, err := cinitParse([]byte(in)); err == nil {
			t.Errorf("%q: parsed as %+v, want an error", in, m)
		}
	}
	// An escaped surrogate pair is one code point; unknown keys and
	// nulls are skipped as Go's decoder skips them.
	m, err := cinitParse([]byte(`{"type":"x\ud83d\ude00","new":{"a":[1,{"b":null}],"c":true},"spawn":null,"id":7}`))
	if err != nil || m.Type != "x😀" || m.ID != 7 || m.Spawn != nil {
		t.Errorf("got %+v, %v", m, err)
	}
}

// TestCinitEncodesWhatGoReads: the C init's replies decode with
// encoding/json into the same message.
func TestCinitEncodesWhatGoReads(t *testing.T) {
	for _, m := range []*message{
		{Type: msgReady},
		{Type: msgResult, ID: 1<<64 - 1, Pid: 2147483647},
		{Type: msgResult, ID: 3, Error: "exec /bin/x: \"no\" such\tfile \x01 é"},
		{Type: msgResult, ID: 4, Addr: "/tmp/ssh-0123456789/agent.1"},
		{Type: msgExit, Pid: 9, Exit: &ExitStatus{Code: 143, Signal: 15}},
		{Type: msgExit, Pid: 9, Exit: &ExitStatus{}},
	} {
		s, err := cinitEncode(m)
		if err != nil {
			t.Fatal(err)
		}
		got := new(message)
		if err := json.Unmarshal([]byte(s), got); err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: got %+v, want %+v", s, got, m)
		}
	}
}

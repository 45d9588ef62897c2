package record

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func open(t *testing.T, max int64, input bool) *Recorder {
	t.Helper()
	r, err := Open(Options{Dir: filepath.Join(t.TempDir(), "rec"), Session: "0123abcd", Input: input, MaxSize: max})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// lines reads a JSON-lines file into raw messages.
func lines(t *testing.T, path string) []json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q is not JSON: %v", path, sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestOpenModes(t *testing.T) {
	r := open(t, 0, false)
	fi, err := os.Stat(r.Dir())
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("session dir %v mode %v, want 0700", err, fi.Mode())
	}
	fi, _ = os.Stat(filepath.Dir(r.Dir()))
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("record_dir mode %v, want 0700", fi.Mode())
	}
	c, err := r.Cast(CastHeader{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	fi, _ = os.Stat(c.Path)
	if fi.Mode().Perm() != 0o600 || filepath.Base(c.Path) != "1.cast" {
		t.Errorf("%s mode %v, want 1.cast 0600", c.Path, fi.Mode())
	}
	s, err := r.SFTP()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if filepath.Base(s.Path) != "2.sftp.jsonl" {
		t.Errorf("second file %s, want 2.sftp.jsonl", s.Path)
	}
	for _, bad := range []string{"", "..", "a/b", ".x"} {
		if _, err := Open(Options{Dir: t.TempDir(), Session: bad}); err == nil {
			t.Errorf("session id %q accepted", bad)
		}
	}
}

func TestCast(t *testing.T) {
	r := open(t, 0, false)
	c, err := r.Cast(CastHeader{Width: 100, Height: 30, Command: "ls", Env: map[string]string{"TERM": "xterm"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Output([]byte("héllo\r\n\x1b[0m\""))
	euro := []byte("€") // 3 bytes, split over two reads
	c.Output(euro[:1])
	c.Output(append(euro[1:], '!'))
	c.Output([]byte{0xff, 'x'})
	c.Input([]byte("secret")) // record_input off: not written
	c.Resize(120, 40)
	c.Close()
	ls := lines(t, c.Path)
	var h CastHeader
	if err := json.Unmarshal(ls[0], &h); err != nil || h.Version != 2 || h.Width != 100 || h.Height != 30 || h.Command != "ls" || h.Timestamp == 0 {
		t.Fatalf("header %s: %+v %v", ls[0], h, err)
	}
	var got []string
	for _, l := range ls[1:] {
		var ev []any
		if err := json.Unmarshal(l, &ev); err != nil || len(ev) != 3 {
			t.Fatalf("event %s", l)
		}
		if _, ok := ev[0].(float64); !ok {
			t.Fatalf("event time %v", ev[0])
		}
		got = append(got, ev[1].(string)+":"+ev[2].(string))
	}
	want := []string{"o:héllo\r\n\x1b[0m\"", "o:€!", "o:\ufffdx", "r:120x40"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestCastInput(t *testing.T) {
	r := open(t, 0, true)
	c, _ := r.Cast(CastHeader{})
	c.Input([]byte("ls\r"))
	c.Close()
	if ls := lines(t, c.Path); len(ls) != 2 || !strings.Contains(string(ls[1]), `"i", "ls\r"`) {
		t.Errorf("input not recorded: %s", ls)
	}
}

func TestCap(t *testing.T) {
	r := open(t, 400, false)
	c, _ := r.Cast(CastHeader{})
	for i := 0; i < 100; i++ {
		c.Output([]byte("0123456789"))
	}
	c.Close()
	ls := lines(t, c.Path)
	last := string(ls[len(ls)-1])
	if !strings.Contains(last, `"m"`) || !strings.Contains(last, CapMarker) {
		t.Fatalf("last line %s, want the cap marker", last)
	}
	if fi, _ := os.Stat(c.Path); fi.Size() > 400+200 {
		t.Errorf("file is %d bytes with a 400 byte cap", fi.Size())
	}
	if !r.Capped() {
		t.Error("not capped")
	}
	// Another channel of the session records nothing but its marker.
	c2, err := r.Cast(CastHeader{})
	if err != nil {
		t.Fatal(err)
	}
	c2.Output([]byte("more"))
	c2.Close()
	if ls := lines(t, c2.Path); len(ls) != 1 || !strings.Contains(string(ls[0]), CapMarker) {
		t.Errorf("second channel after the cap: %s", ls)
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, in := range []string{"", "plain", "\x00\x01\x1f\x7f", "tab\tnl\n", `q"b\`, "日本語", "\u2028x", "<&>"} {
		var out string
		b := appendJSONString(nil, []byte(in))
		if err := json.Unmarshal(b, &out); err != nil || out != in {
			t.Errorf("%q -> %s -> %q %v", in, b, out, err)
		}
	}
}

// pkt builds an SFTP packet from fields: byte, uint32, uint64 or string.
func pkt(fields ...any) []byte {
	var body []byte
	for _, f := range fields {
		switch v := f.(type) {
		case byte:
			body = append(body, v)
		case uint32:
			body = binary.BigEndian.AppendUint32(body, v)
		case uint64:
			body = binary.BigEndian.AppendUint64(body, v)
		case string:
			body = binary.BigEndian.AppendUint32(body, uint32(len(v)))
			body = append(body, v...)
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

func TestSFTP(t *testing.T) {
	r := open(t, 0, false)
	s, err := r.SFTP()
	if err != nil {
		t.Fatal(err)
	}
	data := strings.Repeat("x", 5000)
	var client, server []byte
	client = append(client, pkt(byte(fxpInit), uint32(3))...)
	server = append(server, pkt(byte(2), uint32(3))...)
	// put: open for write, two writes, close.
	client = append(client, pkt(byte(fxpOpen), uint32(1), "/home/u/up", uint32(2|8|16), uint32(0))...)
	server = append(server, pkt(byte(fxpHandle), uint32(1), "h1")...)
	client = append(client, pkt(byte(fxpWrite), uint32(2), "h1", uint64(0), data)...)
	client = append(client, pkt(byte(fxpWrite), uint32(3), "h1", uint64(5000), data[:1000])...)
	client = append(client, pkt(byte(fxpClose), uint32(4), "h1")...)
	// get: open for read, read, EOF.
	client = append(client, pkt(byte(fxpOpen), uint32(5), "/etc/hostname", uint32(1), uint32(0))...)
	server = append(server, pkt(byte(fxpHandle), uint32(5), "h2")...)
	client = append(client, pkt(byte(fxpRead), uint32(6), "h2", uint64(0), uint32(32768))...)
	server = append(server, pkt(byte(fxpData), uint32(6), data[:777])...)
	client = append(client, pkt(byte(fxpRead), uint32(7), "h2", uint64(777), uint32(32768))...)
	server = append(server, pkt(byte(fxpStatus), uint32(7), uint32(1), "EOF", "")...)
	client = append(client, pkt(byte(fxpClose), uint32(8), "h2")...)
	// rename ok, remove refused, mkdir, setstat.
	client = append(client, pkt(byte(fxpRename), uint32(9), "/a", "/b")...)
	server = append(server, pkt(byte(fxpStatus), uint32(9), uint32(0), "ok", "")...)
	client = append(client, pkt(byte(fxpRemove), uint32(10), "/etc/passwd")...)
	server = append(server, pkt(byte(fxpStatus), uint32(10), uint32(3), "permission denied", "")...)
	client = append(client, pkt(byte(fxpMkdir), uint32(11), "/d", uint32(0))...)
	server = append(server, pkt(byte(fxpStatus), uint32(11), uint32(0), "", "")...)
	client = append(client, pkt(byte(fxpSetstat), uint32(12), "/d", uint32(4), uint32(0o700))...)
	server = append(server, pkt(byte(fxpStatus), uint32(12), uint32(0), "", "")...)
	client = append(client, pkt(byte(fxpExtended), uint32(13), "posix-rename@openssh.com", "/b", "/c")...)
	server = append(server, pkt(byte(fxpStatus), uint32(13), uint32(0), "", "")...)

	// Feed in odd-sized pieces, replies after their requests, in the
	// order a relay sees them.
	feed := func(b []byte, f func([]byte)) {
		for len(b) > 0 {
			k := min(len(b), 7)
			f(b[:k])
			b = b[k:]
		}
	}
	// Requests and replies interleaved as a relay sees them: the
	// VERSION reply after INIT, each other reply after its request.
	cr, sr := split(client), split(server)
	feed(cr[0], s.ClientBytes)
	feed(sr[0], s.ServerBytes)
	si := 1
	for _, p := range cr[1:] {
		feed(p, s.ClientBytes)
		id := binary.BigEndian.Uint32(p[5:9])
		for si < len(sr) && binary.BigEndian.Uint32(sr[si][5:9]) <= id {
			feed(sr[si], s.ServerBytes)
			si++
		}
	}
	s.Close()
	var got []string
	for _, l := range lines(t, s.Path) {
		var ev SFTPEvent
		json.Unmarshal(l, &ev)
		x := ev.Op + " " + ev.Path
		if ev.NewPath != "" {
			x += " " + ev.NewPath
		}
		if ev.Bytes != nil {
			x += " bytes=" + itoa(*ev.Bytes)
		}
		if ev.OK != nil && !*ev.OK {
			x += " failed: " + ev.Error
		}
		if ev.Flags != "" {
			x += " " + ev.Flags
		}
		got = append(got, x)
	}
	want := []string{
		"open /home/u/up write,create,trunc",
		"write /home/u/up bytes=6000",
		"close /home/u/up",
		"open /etc/hostname read",
		"read /etc/hostname bytes=777",
		"close /etc/hostname",
		"rename /a /b",
		"remove /etc/passwd failed: permission denied",
		"mkdir /d",
		"setstat /d",
		"rename /b /c",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// split cuts a stream of packets into packets.
func split(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 4 {
		n := int(binary.BigEndian.Uint32(b)) + 4
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestMeta(t *testing.T) {
	r := open(t, 0, false)
	if err := r.SetMeta(Meta{Session: "0123abcd", User: "u", UID: 1000}); err != nil {
		t.Fatal(err)
	}
	r.AddChannel(Channel{N: 1, File: "1.cast", Kind: "shell", Pty: true})
	r.EndChannel(1, "0")
	r.End("idle timeout")
	b, err := os.ReadFile(filepath.Join(r.Dir(), "session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil || m.User != "u" || len(m.Channels) != 1 || m.Channels[0].Exit != "0" || m.End.IsZero() || m.EndReason != "idle timeout" {
		t.Errorf("session.json %s: %+v %v", b, m, err)
	}
	if fi, _ := os.Stat(filepath.Join(r.Dir(), "session.json")); fi.Mode().Perm() != 0o600 {
		t.Errorf("session.json mode %v", fi.Mode())
	}
}

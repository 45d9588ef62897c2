package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loginjail/loginjail/test/testutil"
)

const copyrightFile = "debian/copyright"

// dep5Paragraph is one paragraph of a DEP-5 copyright file: its fields,
// continuation lines joined with "\n".
type dep5Paragraph map[string]string

func readDEP5(t *testing.T) []dep5Paragraph {
	t.Helper()
	b, err := os.ReadFile(copyrightFile)
	if err != nil {
		t.Fatal(err)
	}
	var out []dep5Paragraph
	for _, block := range strings.Split(strings.TrimSpace(string(b)), "\n\n") {
		p := dep5Paragraph{}
		key := ""
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(line, " ") {
				if key == "" {
					t.Fatalf("continuation line before any field: %q", line)
				}
				p[key] += "\n" + strings.TrimPrefix(line, " ")
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("not a field: %q", line)
			}
			key = k
			p[k] = strings.TrimSpace(v)
		}
		out = append(out, p)
	}
	return out
}

// linkedModule is a module go list says the binary is built from.
type linkedModule struct{ path, dir string }

// linkedModules lists the modules of every package ./cmd/loginjail links,
// the main module left out.
func linkedModules(t *testing.T) []linkedModule {
	t.Helper()
	cmd := exec.Command(testutil.GoTool(), "list", "-deps",
		"-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Dir}}{{end}}{{end}}", "../cmd/loginjail")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, stderr.String())
	}
	seen := map[string]bool{}
	var mods []linkedModule
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, dir, _ := strings.Cut(line, " ")
		if path == "" || seen[path] {
			continue
		}
		seen[path] = true
		mods = append(mods, linkedModule{path, dir})
	}
	if len(mods) < 10 {
		t.Fatalf("go list found only %d modules: %v", len(mods), mods)
	}
	return mods
}

// Markers of the license texts the dependencies use, most specific first.
var licenseKinds = []struct {
	name string
	re   *regexp.Regexp
}{
	{"Apache-2.0", regexp.MustCompile(`Apache License\s+Version 2\.0`)},
	{"Expat", regexp.MustCompile(`Permission is hereby granted, free of charge`)},
	{"BSD-3-clause", regexp.MustCompile(`Neither the name of`)},
	{"BSD-2-clause", regexp.MustCompile(`Redistribution and use in source and binary forms`)},
}

// moduleLicense classifies the license file at the root of a module.
func moduleLicense(t *testing.T, dir string) string {
	t.Helper()
	for _, name := range []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			continue
		}
		for _, k := range licenseKinds {
			if k.re.Match(b) {
				return k.name
			}
		}
		return "unrecognised text in " + name
	}
	return "no license file"
}

// TestCopyrightListsLinkedModules: debian/copyright has a paragraph for
// exactly the modules linked into the binary, each with the license its
// own license file states, and a stand-alone paragraph for each license
// named. A dependency added or dropped without updating the file fails
// here.
func TestCopyrightListsLinkedModules(t *testing.T) {
	paras := readDEP5(t)
	if !strings.HasPrefix(paras[0]["Format"], "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0") {
		t.Errorf("header paragraph has no DEP-5 Format: %v", paras[0])
	}
	files := map[string]string{} // Files pattern -> License
	standalone := map[string]bool{}
	for _, p := range paras[1:] {
		switch {
		case p["Files"] != "":
			if p["Copyright"] == "" || p["License"] == "" {
				t.Errorf("Files: %s lacks Copyright or License", p["Files"])
			}
			files[p["Files"]] = p["License"]
		case p["License"] != "":
			name, text, _ := strings.Cut(p["License"], "\n")
			if strings.TrimSpace(text) == "" {
				t.Errorf("stand-alone License: %s has no text", name)
			}
			standalone[name] = true
		default:
			t.Errorf("paragraph with neither Files nor License: %v", p)
		}
	}
	if files["*"] != "Apache-2.0" {
		t.Errorf("Files: * is %q, want Apache-2.0 (LICENSE)", files["*"])
	}
	want := map[string]bool{"*": true, "golang.org/toolchain/*": true}
	for _, m := range linkedModules(t) {
		pattern := m.path + "/*"
		want[pattern] = true
		got, ok := files[pattern]
		if !ok {
			t.Errorf("module %s is linked but has no paragraph (Files: %s)", m.path, pattern)
			continue
		}
		if lic := moduleLicense(t, m.dir); got != lic {
			t.Errorf("module %s: License %q, its license file says %s", m.path, got, lic)
		}
	}
	for pattern, lic := range files {
		if !want[pattern] {
			t.Errorf("Files: %s names a module the binary does not link", pattern)
		}
		if !standalone[lic] {
			t.Errorf("Files: %s: no stand-alone License: %s paragraph", pattern, lic)
		}
	}
}

// TestLicenseIsApache2: the repository's LICENSE is the Apache License 2.0,
// the same text Debian ships as its common license.
func TestLicenseIsApache2(t *testing.T) {
	b, err := os.ReadFile("../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if !licenseKinds[0].re.Match(b) || !bytes.Contains(b, []byte("END OF TERMS AND CONDITIONS")) {
		t.Fatalf("LICENSE is not the full Apache License 2.0 text")
	}
	if common, err := os.ReadFile("/usr/share/common-licenses/Apache-2.0"); err == nil && !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(common)) {
		t.Errorf("LICENSE differs from /usr/share/common-licenses/Apache-2.0")
	}
}

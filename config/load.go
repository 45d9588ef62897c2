package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the configuration file at path on top of the embedded
// defaults, rejects unknown keys and validates every value, [[policy]]
// overrides included. Keys the file leaves out keep their default. Errors
// about the file's content are one line each, "PATH:LINE: message"; when
// there are several, they are joined one per line.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse is Load for a file already read: name is the path used in error
// messages and as Source. It lets tests and `check-config` load content
// that is not in a file of its own.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, string(data), Default())
}

// LoadDefaultOrFile loads path; when path is "", it loads DefaultPath if
// that file exists and returns Default() otherwise.
func LoadDefaultOrFile(path string) (*Config, error) {
	if path != "" {
		return Load(path)
	}
	if _, err := os.Stat(DefaultPath); err == nil {
		return Load(DefaultPath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Default(), nil
}

// parse decodes src (named file in messages) onto base and validates the
// result.
func parse(file, src string, base *Config) (*Config, error) {
	var tree map[string]any
	if _, err := toml.Decode(src, &tree); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := strings.ReplaceAll(pe.Message, "\n", " ")
			return nil, &Error{File: file, Line: pe.Position.Line, Msg: msg, Err: err}
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	errs := &errorList{file: file}
	d := &decoder{index: indexLines(src), errs: errs}
	c := base
	c.Source = file
	c.lines = d.index
	d.table(tree, reflect.ValueOf(c).Elem(), at{}, "policy")
	if raw, ok := tree["policy"]; ok {
		c.Policies = d.policies(raw, c.Jail)
	}
	d.validate(c)
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// policies decodes the [[policy]] array. Each [policy.jail] override is
// decoded onto a copy of base to check its keys and types; the raw table is
// kept for Resolve.
func (d *decoder) policies(raw any, base Jail) []Policy {
	top := at{path: []string{"policy"}, display: "policy"}
	var tables []map[string]any
	switch x := raw.(type) {
	case []map[string]any:
		tables = x
	case []any:
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				d.fail(top.elem(i+1), "expected a table, got "+tomlType(e), nil)
				return nil
			}
			tables = append(tables, m)
		}
	default:
		d.fail(top, "expected [[policy]] tables, got "+tomlType(raw), nil)
		return nil
	}
	out := make([]Policy, 0, len(tables))
	for i, m := range tables {
		pa := top.elem(i + 1)
		p := Policy{Line: d.index.lineOf(pa.path)}
		d.table(m, reflect.ValueOf(&p).Elem(), pa, "jail")
		if _, named := m["name"]; !named {
			p.Name = "policy[" + strconv.Itoa(i+1) + "]"
		}
		if ov, ok := m["jail"]; ok {
			ja := pa.child("jail")
			if t, ok := ov.(map[string]any); ok {
				merged := base.clone()
				d.table(t, reflect.ValueOf(&merged).Elem(), ja)
				p.override = t
			} else {
				d.fail(ja, "expected a table, got "+tomlType(ov), nil)
			}
		}
		out = append(out, p)
	}
	return out
}

// validate checks every value of c and reports problems at their lines.
func (d *decoder) validate(c *Config) {
	root := at{}
	under := func(a at) complaint {
		return func(key string, elem int, msg string) {
			k := a
			for _, part := range strings.Split(key, ".") {
				k = k.child(part)
			}
			if elem > 0 {
				k = k.elem(elem)
			}
			d.fail(k, msg, nil)
		}
	}
	validateServer(&c.Server, under(root.child("server")))
	validateJail(&c.Jail, under(root.child("jail")))
	names := map[string]int{}
	for i := range c.Policies {
		p := &c.Policies[i]
		pa := at{path: []string{"policy"}, display: "policy"}.elem(i + 1)
		if p.Name == "" {
			d.fail(pa.child("name"), "must not be empty", nil)
		} else if prev, dup := names[p.Name]; dup {
			d.fail(pa.child("name"), fmt.Sprintf("%q is already the name of policy[%d]", p.Name, prev), nil)
		} else {
			names[p.Name] = i + 1
		}
		validatePolicy(p, under(pa))
		if p.override == nil {
			continue
		}
		// Check the merged jail, but only complain about keys the override
		// sets: the rest comes from [jail], which was checked above.
		merged := c.Jail.clone()
		applyOverride(&merged, p.override)
		report := under(pa.child("jail"))
		validateJail(&merged, func(key string, elem int, msg string) {
			if hasKey(p.override, key) {
				report(key, elem, msg)
			}
		})
	}
}

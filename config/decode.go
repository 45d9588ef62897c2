package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decoder assigns a generic TOML tree (as decoded by BurntSushi/toml into
// map[string]any) onto schema structs. Keys present in the tree replace the
// field's value; absent keys leave it alone, which is how both the file over
// the defaults and a [policy.jail] override over [jail] are applied. Unknown
// keys and values of the wrong type are reported with their line.
type decoder struct {
	index lineIndex
	errs  *errorList
}

// at names a position in the tree: its index path (for line lookup) and
// its display form (for messages), e.g. "policy.2.jail" / "policy[2].jail".
type at struct {
	path    []string
	display string
}

// child returns the position of key under a.
func (a at) child(key string) at {
	p := append(append([]string(nil), a.path...), key)
	d := quoteKey(key)
	if a.display != "" {
		d = a.display + "." + d
	}
	return at{path: p, display: d}
}

// elem returns the position of the 1-based element n of the array at a.
func (a at) elem(n int) at {
	p := append(append([]string(nil), a.path...), strconv.Itoa(n))
	return at{path: p, display: fmt.Sprintf("%s[%d]", a.display, n)}
}

// quoteKey quotes a key the way TOML needs it when it is not bare.
func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyChar(k[i]) {
			return strconv.Quote(k)
		}
	}
	return k
}

func (d *decoder) fail(a at, msg string, err error) {
	d.errs.add(d.index.lineOf(a.path), a.display, msg, err)
}

// sortedKeys returns the keys of m in the order they appear in the file.
// Each key's line is looked up once, not in every comparison: building a
// child position allocates, and a sort's comparisons made this ~70 KB of
// garbage per parse, which every per-connection process parses (issue 17).
func (d *decoder) sortedKeys(m map[string]any, a at) []string {
	type keyLine struct {
		key  string
		line int
	}
	kl := make([]keyLine, 0, len(m))
	path := append(append(make([]string, 0, len(a.path)+1), a.path...), "")
	for k := range m {
		path[len(path)-1] = k
		kl = append(kl, keyLine{k, d.index.lineOf(path)})
	}
	slices.SortFunc(kl, func(x, y keyLine) int {
		if x.line != y.line {
			return x.line - y.line
		}
		return strings.Compare(x.key, y.key)
	})
	keys := make([]string, len(kl))
	for i, e := range kl {
		keys[i] = e.key
	}
	return keys
}

// fieldsByKey maps the toml tags of a struct type to field indexes.
func fieldsByKey(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if !f.IsExported() || tag == "" || tag == "-" {
			continue
		}
		m[tag] = i
	}
	return m
}

// table assigns the keys of tree onto the struct v. Keys listed in skip are
// left for the caller.
func (d *decoder) table(tree map[string]any, v reflect.Value, a at, skip ...string) {
	fields := fieldsByKey(v.Type())
	for _, k := range d.sortedKeys(tree, a) {
		if slices.Contains(skip, k) {
			continue
		}
		ka := a.child(k)
		i, ok := fields[k]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", ka.display)
			if near := nearestKey(k, fields, skip...); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			d.errs.add(d.index.lineOf(ka.path), "", msg, nil)
			continue
		}
		d.value(tree[k], v.Field(i), ka)
	}
}

var (
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
	durationType    = reflect.TypeFor[Duration]()
	sizeType        = reflect.TypeFor[Size]()
	rootLoginType   = reflect.TypeFor[RootLogin]()
)

// value assigns one TOML value onto the field v.
func (d *decoder) value(val any, v reflect.Value, a at) {
	t := v.Type()
	switch {
	case t == rootLoginType:
		// permit_root_login was a boolean before it took OpenSSH's words.
		if b, ok := val.(bool); ok {
			v.SetString(string(map[bool]RootLogin{true: RootYes, false: RootNo}[b]))
			return
		}
		x, ok := val.(string)
		if !ok {
			d.fail(a, "expected \"yes\", \"no\", \"prohibit-password\", \"forced-commands-only\" or a boolean, got "+tomlType(val), nil)
			return
		}
		var r RootLogin
		if err := r.UnmarshalText([]byte(x)); err != nil {
			d.fail(a, err.Error(), err)
			return
		}
		v.SetString(string(r))
		return
	case t == sizeType:
		switch x := val.(type) {
		case int64:
			if x < 0 {
				d.fail(a, fmt.Sprintf("%d is negative", x), nil)
				return
			}
			v.SetInt(x)
		case string:
			s, err := ParseSize(x)
			if err != nil {
				d.fail(a, err.Error(), err)
				return
			}
			v.SetInt(int64(s))
		default:
			d.fail(a, "expected a size such as \"512M\" or a number of bytes, got "+tomlType(val), nil)
		}
		return
	case reflect.PointerTo(t).Implements(textUnmarshaler):
		x, ok := val.(string)
		if !ok {
			want := "a string"
			if t == durationType {
				want = "a duration string such as \"30s\" or \"2m\""
			}
			d.fail(a, "expected "+want+", got "+tomlType(val), nil)
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(x)); err != nil {
			d.fail(a, err.Error(), err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := val.(map[string]any)
		if !ok {
			d.fail(a, "expected a table, got "+tomlType(val), nil)
			return
		}
		d.table(m, v, a)
	case reflect.String:
		x, ok := val.(string)
		if !ok {
			d.fail(a, "expected a string, got "+tomlType(val), nil)
			return
		}
		v.SetString(x)
	case reflect.Bool:
		x, ok := val.(bool)
		if !ok {
			d.fail(a, "expected true or false, got "+tomlType(val), nil)
			return
		}
		v.SetBool(x)
	case reflect.Int:
		x, ok := val.(int64)
		if !ok {
			d.fail(a, "expected an integer, got "+tomlType(val), nil)
			return
		}
		if x < math.MinInt || x > math.MaxInt {
			d.fail(a, fmt.Sprintf("%d is out of range", x), nil)
			return
		}
		v.SetInt(x)
	case reflect.Float64:
		switch x := val.(type) {
		case float64:
			v.SetFloat(x)
		case int64:
			v.SetFloat(float64(x))
		default:
			d.fail(a, "expected a number, got "+tomlType(val), nil)
		}
	case reflect.Slice:
		if t.Elem().Kind() != reflect.String {
			panic("config: unsupported slice type " + t.String())
		}
		arr, ok := val.([]any)
		if !ok {
			d.fail(a, "expected an array of strings, got "+tomlType(val), nil)
			return
		}
		out := make([]string, 0, len(arr))
		for i, e := range arr {
			s, ok := e.(string)
			if !ok {
				d.fail(a.elem(i+1), "expected a string, got "+tomlType(e), nil)
				return
			}
			out = append(out, s)
		}
		v.Set(reflect.ValueOf(out))
	default:
		panic("config: unsupported field type " + t.String())
	}
}

// tomlType names the TOML type of a decoded value for messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case bool:
		return "a boolean"
	case time.Time:
		return "a datetime"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

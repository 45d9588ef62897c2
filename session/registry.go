package session

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/loginjail/loginjail/jail"
	"github.com/loginjail/loginjail/netpolicy"
)

// Front doors, as `ps` reports them.
const (
	FrontdoorSSHD = "sshd"
	FrontdoorPAM  = "pam"
	FrontdoorRun  = "run"
)

// Record is what the registry keeps of a live session: one JSON file per
// session under the state dir, replaced atomically, readable by root only.
type Record struct {
	ID        string    `json:"id"`
	User      string    `json:"user"`
	UID       uint32    `json:"uid"`
	Pid       int       `json:"pid"` // host pid of the jail init; 0 while starting
	Hostname  string    `json:"hostname"`
	Net       string    `json:"net"`
	IP        string    `json:"ip"`
	Remote    string    `json:"remote"`
	Started   time.Time `json:"started"`
	Frontdoor string    `json:"frontdoor"`
	Policy    string    `json:"policy"`

	// What admin verbs need; not part of `ps --json`.
	StartTime  uint64   `json:"start_time"` // init's, to tell pid reuse
	Owner      int      `json:"owner"`      // pid of the process that built the jail
	OwnerStart uint64   `json:"owner_start"`
	SessionDir string   `json:"session_dir"`
	Home       string   `json:"home"`
	Shell      string   `json:"shell"`
	InsideUID  uint32   `json:"inside_uid"`
	InsideGID  uint32   `json:"inside_gid"`
	SubUID     uint32   `json:"sub_uid"`
	SubGID     uint32   `json:"sub_gid"`
	Env        []string `json:"env"`
	// HostGroups are the user's groups (host gids) the jail was born
	// with, InsideGroups how the jail sees them: `enter` as the user
	// takes the same.
	HostGroups   []uint32 `json:"host_groups,omitempty"`
	InsideGroups []uint32 `json:"inside_groups,omitempty"`
	// Network is the NAT attachment's spec, kept so gc can reclaim the
	// veth, firewall elements and lease after the builder died.
	Network *netpolicy.Spec `json:"network,omitempty"`
	// Confine is the session's confinement, which `enter` applies to the
	// process it starts, and whose limits name the cgroup gc removes.
	Confine jail.Confinement `json:"confine"`
}

// PSEntry is one element of `ps --json`: the contract in DESIGN.md.
type PSEntry struct {
	ID        string `json:"id"`
	User      string `json:"user"`
	UID       uint32 `json:"uid"`
	Pid       int    `json:"pid"`
	Hostname  string `json:"hostname"`
	Net       string `json:"net"`
	IP        string `json:"ip"`
	Remote    string `json:"remote"`
	Started   string `json:"started"`
	Frontdoor string `json:"frontdoor"`
	Policy    string `json:"policy"`

	// Live usage (see Usage), and seconds since the client's last input.
	CPUSeconds  float64 `json:"cpu_seconds"`
	MemoryBytes int64   `json:"memory_bytes"`
	Pids        int     `json:"pids"`
	IdleSeconds float64 `json:"idle_seconds"`
}

// PSEntries is the public view of recs with their live usage and idle
// time, as `ps` prints it.
func (g *Registry) PSEntries(recs []*Record) []PSEntry {
	use := ReadUsage(recs)
	now := time.Now()
	out := make([]PSEntry, 0, len(recs))
	for _, r := range recs {
		e := r.PS()
		u := use[r.ID]
		e.CPUSeconds, e.MemoryBytes, e.Pids = u.CPUSeconds, u.MemoryBytes, u.Pids
		e.IdleSeconds = max(now.Sub(g.LastInput(r)).Seconds(), 0)
		out = append(out, e)
	}
	return out
}

// PS returns the public view of r.
func (r *Record) PS() PSEntry {
	return PSEntry{ID: r.ID, User: r.User, UID: r.UID, Pid: r.Pid, Hostname: r.Hostname,
		Net: r.Net, IP: r.IP, Remote: r.Remote, Started: r.Started.UTC().Format(time.RFC3339),
		Frontdoor: r.Frontdoor, Policy: r.Policy}
}

// Registry is the directory of session records.
type Registry struct {
	Dir string // <state_dir>/sessions
}

// NewRegistry returns the registry under stateDir.
func NewRegistry(stateDir string) *Registry {
	return &Registry{Dir: filepath.Join(stateDir, "sessions")}
}

func (g *Registry) path(id string) string { return filepath.Join(g.Dir, id+".json") }

// Create writes a new record; it fails if the id is taken.
func (g *Registry) Create(r *Record) error {
	if err := os.MkdirAll(g.Dir, 0o711); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	// 0711 lets a jail's root traverse to its own session dir; listing
	// stays root's.
	if err := os.Chmod(filepath.Dir(g.Dir), 0o711); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := os.Chmod(g.Dir, 0o711); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return g.write(r, true)
}

// Update replaces r's record atomically: readers see the old or the new
// file, never half of one.
func (g *Registry) Update(r *Record) error {
	return g.write(r, false)
}

// write puts r in a temp file and then links it into place (exclusive:
// fails if the id is taken) or renames it over the old record.
func (g *Registry) write(r *Record, exclusive bool) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("registry: encode %s: %w", r.ID, err)
	}
	tmp, err := os.CreateTemp(g.Dir, "."+r.ID+".tmp-")
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("registry: write %s: %w", r.ID, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("registry: sync %s: %w", r.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if exclusive {
		if err := os.Link(tmp.Name(), g.path(r.ID)); err != nil {
			return fmt.Errorf("registry: session %s: %w", r.ID, err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), g.path(r.ID)); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// Remove deletes r's record (and its input time); a missing record is
// not an error.
func (g *Registry) Remove(id string) error {
	if err := os.Remove(g.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("registry: %w", err)
	}
	return g.removeInput(id)
}

// Get reads one record.
func (g *Registry) Get(id string) (*Record, error) {
	b, err := os.ReadFile(g.path(id))
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", id, err)
	}
	r := new(Record)
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("session %s: bad record: %w", id, err)
	}
	return r, nil
}

// List returns every record, oldest first. A missing registry is empty.
func (g *Registry) List() ([]*Record, error) {
	ents, err := os.ReadDir(g.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	var out []*Record
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		r, err := g.Get(strings.TrimSuffix(name, ".json"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed while we listed
			}
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

package netpolicy

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
)

// The IP pool keeps one file per lease, StateDir/leases/<ip>, holding the
// session id, created with O_EXCL: the file system decides which of several
// processes allocating at once gets an address, so no lock is needed and a
// crashed allocator leaves nothing locked. StateDir/sessions/<id> is a
// symlink to the address, for lookups by session. An address is free again
// only when its lease file is removed (Release or Reclaim).

const (
	leasesDir   = "leases"
	sessionsDir = "sessions"
)

// gatewayOf is the subnet's first host address, which the bridge holds.
func gatewayOf(subnet netip.Prefix) netip.Addr { return subnet.Masked().Addr().Next() }

// lastHost is the subnet's last address before broadcast.
func lastHost(subnet netip.Prefix) netip.Addr {
	iv := prefixInterval(subnet)
	var b [4]byte
	b[0], b[1], b[2], b[3] = byte(iv.hi>>24), byte(iv.hi>>16), byte(iv.hi>>8), byte(iv.hi)
	return netip.AddrFrom4(b).Prev()
}

// nextFree picks the lowest jail address of subnet not in used: the gateway
// and the network and broadcast addresses are never handed out.
func nextFree(subnet netip.Prefix, used map[netip.Addr]bool) (netip.Addr, bool) {
	last := lastHost(subnet)
	for a := gatewayOf(subnet).Next(); a.IsValid() && a.Compare(last) <= 0; a = a.Next() {
		if !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// leaseIP gives sessionID an address of subnet and records it.
func leaseIP(stateDir string, subnet netip.Prefix, sessionID string) (netip.Addr, error) {
	ldir := filepath.Join(stateDir, leasesDir)
	sdir := filepath.Join(stateDir, sessionsDir)
	for _, d := range []string{ldir, sdir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return netip.Addr{}, fmt.Errorf("create lease dir: %w", err)
		}
	}
	if ip, ok := LeasedIP(stateDir, sessionID); ok {
		return netip.Addr{}, fmt.Errorf("session %s already holds %v", sessionID, ip)
	}
	names, err := readNames(ldir)
	if err != nil {
		return netip.Addr{}, err
	}
	used := make(map[netip.Addr]bool, len(names))
	for _, n := range names {
		if a, err := netip.ParseAddr(n); err == nil {
			used[a] = true
		}
	}
	for {
		ip, ok := nextFree(subnet, used)
		if !ok {
			return netip.Addr{}, fmt.Errorf("lease address: subnet %v exhausted (%d leases)", subnet, len(used))
		}
		f, err := os.OpenFile(filepath.Join(ldir, ip.String()), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			used[ip] = true // another process won it
			continue
		}
		if err != nil {
			return netip.Addr{}, fmt.Errorf("lease address: %w", err)
		}
		_, werr := f.WriteString(sessionID + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr == nil {
			werr = os.Symlink(ip.String(), filepath.Join(sdir, sessionID))
		}
		if werr != nil {
			os.Remove(filepath.Join(ldir, ip.String()))
			return netip.Addr{}, fmt.Errorf("lease address: %w", werr)
		}
		return ip, nil
	}
}

// LeasedIP reports the address leased to sessionID, if any.
func LeasedIP(stateDir, sessionID string) (netip.Addr, bool) {
	if !sessionIDRE().MatchString(sessionID) {
		return netip.Addr{}, false
	}
	target, err := os.Readlink(filepath.Join(stateDir, sessionsDir, sessionID))
	if err == nil {
		if ip, err := netip.ParseAddr(target); err == nil && leaseOwner(stateDir, ip) == sessionID {
			return ip, true
		}
	}
	// A crash between creating the lease and its symlink leaves only the
	// lease: look for it by owner.
	names, _ := readNames(filepath.Join(stateDir, leasesDir))
	for _, n := range names {
		if ip, err := netip.ParseAddr(n); err == nil && leaseOwner(stateDir, ip) == sessionID {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func leaseOwner(stateDir string, ip netip.Addr) string {
	b, err := os.ReadFile(filepath.Join(stateDir, leasesDir, ip.String()))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// releaseLease frees sessionID's address. It removes a lease file only if
// the session owns it, and is a no-op when there is nothing to free.
func releaseLease(stateDir, sessionID string) error {
	var errs []error
	if ip, ok := LeasedIP(stateDir, sessionID); ok {
		if err := os.Remove(filepath.Join(stateDir, leasesDir, ip.String())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove lease %v: %w", ip, err))
		}
	}
	if err := os.Remove(filepath.Join(stateDir, sessionsDir, sessionID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove lease link: %w", err))
	}
	return errors.Join(errs...)
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read leases: %w", err)
	}
	return names, nil
}

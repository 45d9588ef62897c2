package session

import (
	"fmt"
	osuser "os/user"
	"sort"
	"strconv"
	"strings"

	"github.com/loginjail/loginjail/config"
	"github.com/loginjail/loginjail/jail"
)

// InsideIDs is what `id` prints in a jail of policy r for who, whose
// subordinate ids are ids: the uid and primary gid the user has inside,
// then their groups through the jail's gid map (a group the jail cannot
// map shows as the overflow gid 65534, though the kernel still counts it).
// Names are the host's; an image rootfs has its own /etc/group.
func InsideIDs(r *config.Resolved, who *Identity, ids config.SubIDs) string {
	spec := &jail.Spec{UserMode: r.Jail.UserMode, UID: who.UID, GID: who.GID, SubGID: ids.GIDStart,
		Groups: who.Groups, AllowSetgroups: r.Jail.AllowSetgroups}
	uid, gid := spec.InsideUID(), spec.InsideGID()
	uname := who.Name
	if uid == 0 {
		uname = "root"
	}
	// The kernel keeps groups sorted by host gid; id prints the primary
	// group first.
	host := append([]uint32(nil), who.Groups...)
	sort.Slice(host, func(i, j int) bool { return host[i] < host[j] })
	inside := (&jail.Spec{UserMode: spec.UserMode, GID: spec.GID, SubGID: spec.SubGID, Groups: host}).InsideGroups()
	list := []string{groupName(gid)}
	for _, g := range inside {
		if g != gid {
			list = append(list, groupName(g))
		}
	}
	setgroups := "setgroups denied"
	if spec.SetgroupsAllowed() {
		setgroups = "setgroups allowed to the jail's root"
	}
	return fmt.Sprintf("uid=%d(%s) gid=%s groups=%s; %s", uid, uname, groupName(gid), strings.Join(list, ","), setgroups)
}

// groupName is "gid(name)" with the host's name for gid, or the bare gid.
func groupName(gid uint32) string {
	s := strconv.FormatUint(uint64(gid), 10)
	if g, err := osuser.LookupGroupId(s); err == nil {
		return s + "(" + g.Name + ")"
	}
	return s
}

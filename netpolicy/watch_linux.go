package netpolicy

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Watch listens to nftables' change notifications (the NFNLGRP_NFTABLES
// netlink group, what `nft monitor` reads) and calls changed after each
// committed transaction that deleted one of our tables or a part of their
// skeleton, e.g. `nft flush ruleset` or `systemctl restart nftables`; also
// when notifications were lost (the socket's buffer overran), since one
// of them may have been such a deletion. It returns when ctx ends, or
// with an error if the socket cannot be opened or read.
//
// It reads the raw messages rather than github.com/google/nftables'
// Monitor: that one's event filter tests (flags&1)<<type rather than
// flags&(1<<type), so it either passes every event, element additions of
// every login included, parsed in full, or none; here a message is
// judged by its type and table name alone, without parsing it further.
func Watch(ctx context.Context, changed func()) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "nftables-monitor")
	defer f.Close()
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1 << (unix.NFNLGRP_NFTABLES - 1)}); err != nil {
		return os.NewSyscallError("bind nftables monitor", err)
	}
	// A flush of a large ruleset sends a burst: a larger buffer loses
	// fewer, and a loss is handled anyway.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	// Netlink sockets cannot be shut down to wake a blocked read: wake
	// up each second to look at ctx instead.
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return os.NewSyscallError("setsockopt SO_RCVTIMEO", err)
	}
	buf := make([]byte, 1<<16)
	pending := false
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, unix.ENOBUFS) {
			changed()
			continue
		}
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			continue
		}
		if err != nil {
			return os.NewSyscallError("read nftables monitor", err)
		}
		for _, m := range splitNetlink(buf[:n]) {
			switch {
			case m.typ == unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWGEN:
				// The end of a committed transaction.
				if pending {
					pending = false
					changed()
				}
			case deletesOurs(m.typ, m.data):
				pending = true
			}
		}
	}
}

type nlMsg struct {
	typ  uint16
	data []byte // after the netlink header
}

func splitNetlink(b []byte) []nlMsg {
	var out []nlMsg
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b[0:4]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			break
		}
		out = append(out, nlMsg{typ: binary.NativeEndian.Uint16(b[4:6]), data: b[unix.NLMSG_HDRLEN:l]})
		l = (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return out
}

// deletesOurs reports whether a notification deletes our table or a part
// of its skeleton: a table named loginjail (of any family), or one of its
// base chains, their rules, or its schema sets. A policy's own chains and
// sets (pol_*), deleted with its last jail, and set elements, which
// logouts delete all the time, do not count; Restore's Inspect finds
// elements missing for other reasons.
func deletesOurs(typ uint16, data []byte) bool {
	if typ>>8 != unix.NFNL_SUBSYS_NFTABLES || len(data) < 4 {
		return false
	}
	attrs := nlAttrs(data[4:]) // after struct nfgenmsg
	// Every message's attribute 1 is the table's name (NFTA_TABLE_NAME,
	// NFTA_CHAIN_TABLE, NFTA_SET_TABLE, NFTA_RULE_TABLE).
	if attrs[1] != tableName {
		return false
	}
	switch typ & 0xff {
	case unix.NFT_MSG_DELTABLE:
		return true
	case unix.NFT_MSG_DELCHAIN:
		return !strings.HasPrefix(attrs[unix.NFTA_CHAIN_NAME], "pol_")
	case unix.NFT_MSG_DELRULE:
		return !strings.HasPrefix(attrs[unix.NFTA_RULE_CHAIN], "pol_")
	case unix.NFT_MSG_DELSET:
		return !strings.HasPrefix(attrs[unix.NFTA_SET_NAME], "pol_")
	}
	return false
}

// nlAttrs returns the string attributes among b's first level, by type
// (NUL-terminated strings, the terminator dropped). Others are ignored.
func nlAttrs(b []byte) map[uint16]string {
	out := map[uint16]string{}
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & nlaTypeMask
		if l < 4 || l > len(b) {
			break
		}
		if v := b[4:l]; len(v) > 0 && v[len(v)-1] == 0 {
			out[typ] = string(v[:len(v)-1])
		}
		l = (l + 3) &^ 3
		if l > len(b) {
			break
		}
		b = b[l:]
	}
	return out
}

// nlaTypeMask strips NLA_F_NESTED and NLA_F_NET_BYTEORDER from a type.
const nlaTypeMask = 0x3fff

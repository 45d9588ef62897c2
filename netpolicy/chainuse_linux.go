package netpolicy

import (
	"encoding/binary"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// chainUse returns the kernel's use count of chain name of our table
// (NFTA_CHAIN_USE, which github.com/google/nftables does not report): the
// chain's own rules plus the rules and verdict map elements jumping to it,
// and whether the chain exists. It asks with a plain GETCHAIN request: no transaction, so it
// can neither fail one nor wait on one. Like withNft it keeps one lasting
// socket, under nftMu: closing a NETLINK_NETFILTER socket may wait for an
// RCU grace period.
func chainUse(name string) (use uint32, exists bool, err error) {
	nftMu.Lock()
	defer nftMu.Unlock()
	use, exists, err = chainUseLocked(name)
	if err != nil && useSock >= 0 {
		unix.Close(useSock)
		useSock = -1
	}
	return use, exists, err
}

var (
	useSock = -1
	useSeq  uint32
)

func chainUseLocked(name string) (uint32, bool, error) {
	if useSock < 0 {
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
		if err != nil {
			return 0, false, os.NewSyscallError("socket", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			unix.Close(fd)
			return 0, false, os.NewSyscallError("bind", err)
		}
		useSock = fd
	}
	useSeq++
	seq := useSeq
	var attrs []byte
	for _, a := range []struct {
		typ uint16
		val string
	}{{unix.NFTA_CHAIN_TABLE, tableName}, {unix.NFTA_CHAIN_NAME, name}} {
		v := append([]byte(a.val), 0)
		hdr := make([]byte, 4)
		binary.NativeEndian.PutUint16(hdr[0:], uint16(4+len(v)))
		binary.NativeEndian.PutUint16(hdr[2:], a.typ)
		attrs = append(attrs, hdr...)
		attrs = append(attrs, v...)
		for len(attrs)%4 != 0 {
			attrs = append(attrs, 0)
		}
	}
	msg := make([]byte, unix.NLMSG_HDRLEN+4, unix.NLMSG_HDRLEN+4+len(attrs))
	msg = append(msg, attrs...)
	binary.NativeEndian.PutUint32(msg[0:], uint32(len(msg)))
	binary.NativeEndian.PutUint16(msg[4:], unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_GETCHAIN)
	binary.NativeEndian.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	binary.NativeEndian.PutUint32(msg[8:], seq)
	msg[unix.NLMSG_HDRLEN] = byte(table.Family) // nfgenmsg: family, version 0, res_id 0
	if err := unix.Sendto(useSock, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, false, os.NewSyscallError("sendto", err)
	}
	buf := make([]byte, 16384)
	for {
		n, _, err := unix.Recvfrom(useSock, buf, 0)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, false, os.NewSyscallError("recvfrom", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, false, fmt.Errorf("parse netlink answer: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != seq {
				continue // a stale answer
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				if len(m.Data) < 4 {
					return 0, false, fmt.Errorf("short netlink error")
				}
				errno := -int32(binary.NativeEndian.Uint32(m.Data))
				if errno == 0 {
					continue
				}
				if syscall.Errno(errno) == unix.ENOENT {
					return 0, false, nil
				}
				return 0, false, fmt.Errorf("get nft chain %s: %w", name, syscall.Errno(errno))
			}
			if len(m.Data) < 4 {
				return 0, false, fmt.Errorf("short nft chain answer")
			}
			for b := m.Data[4:]; len(b) >= 4; {
				l := int(binary.NativeEndian.Uint16(b[0:]))
				typ := binary.NativeEndian.Uint16(b[2:]) &^ (unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
				if l < 4 || l > len(b) {
					break
				}
				if typ == unix.NFTA_CHAIN_USE && l >= 8 {
					return binary.BigEndian.Uint32(b[4:8]), true, nil
				}
				l = (l + 3) &^ 3
				if l > len(b) {
					break
				}
				b = b[l:]
			}
			return 0, false, fmt.Errorf("nft chain %s: answer without a use count", name)
		}
	}
}

module github.com/loginjail/loginjail

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/vishvananda/netlink v1.3.1
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)

require github.com/vishvananda/netns v0.0.5 // indirect

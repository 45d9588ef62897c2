// Package vm is the VM test bed: its tests boot Debian 12 (bookworm) and
// Debian 13 (trixie) guests with qemu, each with systemd as PID 1 on
// cgroup v2 and its distribution's own kernel, install the .deb from
// `make deb` in them and prove loginjail there with the guests' own
// OpenSSH clients (`make vm-test`). Images are built with mmdebstrap by
// build-image.sh and cached; see vm_test.go.
package vm

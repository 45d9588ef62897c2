// Package subid finds a login's subordinate uid and gid ranges where
// shadow keeps them (/etc/subuid and /etc/subgid, or an NSS source named
// on the subid: line of /etc/nsswitch.conf, read through shadow's
// libsubid) and, when [jail] subid_allocate is on, gives a user with
// none a free range under shadow's own lock.
//
// libsubid is loaded with dlopen at run time, not linked: most hosts have
// no subid: line, and the files are read in Go there, so the binary (and
// its .deb) must not need libsubid4. A host whose nsswitch.conf names an
// NSS source for subid but lacks the library gets an error that says so.
package subid

// Package record writes session recordings: a directory per session,
// <record_dir>/<session id>/, holding session.json (who, from where,
// which policy, when, how each channel ended), one asciicast v2 file
// <n>.cast per terminal or command channel, and one JSON-lines file
// <n>.sftp.jsonl per SFTP channel.
//
// The recorder runs in a root process outside the jail (the SSH server's
// per-connection process, the PAM login's holder), fed by the relay that
// copies the client's bytes; nothing inside the jail can reach it.
// Directories are 0700 and files 0600, owned by root. All files of a
// session share one size budget (record_max_size): the write that would
// pass it is replaced by a marker event, and the session's recording
// stops there while the session goes on.
package record

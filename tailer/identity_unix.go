//go:build unix

package tailer

import (
	"os"
	"syscall"
)

// fileID returns the device and inode of a file, and whether it had any.
func fileID(fi os.FileInfo) (devIno, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, false
	}
	return devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// unlinked says whether a file has no name left: deleted while open.
func unlinked(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0
}

//go:build !unix

package tailer

import "os"

// fileID reports no identity: following needs device and inode numbers,
// which only unix systems give; Follow refuses to start without them.
func fileID(fi os.FileInfo) (devIno, bool) { return devIno{}, false }

func unlinked(fi os.FileInfo) bool { return false }

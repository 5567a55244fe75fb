//go:build unix

package local

import "golang.org/x/sys/unix"

// freeBytes is what an unprivileged writer may still write on path's disk.
func freeBytes(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

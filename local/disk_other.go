//go:build !unix

package local

import "errors"

// freeBytes is not known here: health does not watch the disk.
func freeBytes(string) (int64, error) { return 0, errors.New("free space unknown on this system") }

// openFileLimit is not known here.
func openFileLimit() int { return 0 }

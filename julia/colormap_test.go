package julia

import (
	"slices"
	"testing"
)

// The generated tables are exactly the colormaps offered.
func TestTablesAreTheColormapsOffered(t *testing.T) {
	var tables []string
	for name := range colormaps {
		tables = append(tables, name)
	}
	slices.Sort(tables)
	offered := slices.Sorted(slices.Values(Colormaps()))
	if !slices.Equal(tables, offered) {
		t.Errorf("tables %v, offered %v: run make generate", tables, offered)
	}
}

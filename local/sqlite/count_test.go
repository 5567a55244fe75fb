package sqlite

import (
	"context"
	"strings"
	"testing"
)

// Every create counts the owner's configurations (the quotas): the count
// reads the (owner, status) index alone, so its cost does not grow with
// the size of what the owner keeps.
func TestCountingAnOwnersConfigurationsReadsOnlyAnIndex(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.r.Query("EXPLAIN QUERY PLAN "+countConfigurations, "someone")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING COVERING INDEX configurations_by_owner_status") {
		t.Errorf("counting an owner's configurations: plan %q, want the covering (owner, status) index", got)
	}
}

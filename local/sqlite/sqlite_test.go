package sqlite_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/longrun/longrun"
	"github.com/longrun/longrun/local/sqlite"
	"github.com/longrun/longrun/porttest"
)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreConformance(t *testing.T) {
	porttest.TestStore(t, func(t *testing.T) porttest.Store { return open(t) })
}

func TestJobQueueConformance(t *testing.T) {
	porttest.TestJobQueue(t, func(t *testing.T) (porttest.JobQueue, func(time.Duration)) {
		db := open(t)
		clock := time.Now()
		db.Now = func() time.Time { return clock }
		return db, func(d time.Duration) { clock = clock.Add(d) }
	})
}

func TestChangeLogConformance(t *testing.T) {
	porttest.TestChangeLog(t, func(t *testing.T) porttest.ChangeLog { return open(t) })
}

func TestQueueConformance(t *testing.T) {
	porttest.TestQueue(t, func(t *testing.T) (porttest.Queue, func() []longrun.Job) {
		db := open(t)
		return db, func() []longrun.Job {
			msgs, err := db.Receive(context.Background(), 10, time.Minute, 5)
			if err != nil {
				t.Fatal(err)
			}
			var jobs []longrun.Job
			for _, m := range msgs {
				var j longrun.Job
				if err := json.Unmarshal([]byte(m.Body), &j); err != nil {
					t.Fatal(err)
				}
				jobs = append(jobs, j)
				db.DeleteJob(context.Background(), m.ID)
			}
			return jobs
		}
	})
}

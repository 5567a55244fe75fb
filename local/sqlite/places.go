package sqlite

import (
	"context"
	"encoding/json"
	"time"

	"github.com/longrun/longrun"
)

// paceWindow is how far back the pace of the queue is measured.
const paceWindow = time.Minute

// Places says where each waiting job stands: the scheduler's own rule
// (Receive: the client served least, then its owner served least, then
// the oldest job) run forward over the waiting jobs from the shares as
// they are now, each job charging its work as it is handed out and
// staying in flight. Jobs in flight, or waiting to be tried again later,
// go before none. The pace is the
// work of the jobs finished over the last minute, a second: what was
// handed out says nothing of how fast it goes.
func (db *DB) Places(ctx context.Context) (map[longrun.JobRef]longrun.Place, float64, error) {
	now := db.now()
	type job struct {
		id          int64
		client, grp string
		work        int64
		ref         longrun.JobRef
	}
	type owner struct {
		key    string
		served int64
		busy   int
		jobs   []job
	}
	type client struct {
		served int64
		busy   int
		owners []*owner
	}
	shares := map[string]int64{}
	rows, err := db.r.QueryContext(ctx, `SELECT key, served FROM job_shares`)
	if err != nil {
		return nil, 0, unavailable(err)
	}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, 0, err
		}
		shares[k] = v
	}
	rows.Close()
	clients, owners := map[string]*client{}, map[string]*owner{}
	rows, err = db.r.QueryContext(ctx, `SELECT id, client, grp, work, visible_at <= ?1, visible_at > ?1 AND receives > 0, body FROM jobs ORDER BY id`, now)
	if err != nil {
		return nil, 0, unavailable(err)
	}
	for rows.Next() {
		var j job
		var waiting, inFlight bool
		var body []byte
		if err := rows.Scan(&j.id, &j.client, &j.grp, &j.work, &waiting, &inFlight, &body); err != nil {
			rows.Close()
			return nil, 0, err
		}
		c := clients[j.client]
		if c == nil {
			c = &client{served: shares["c "+j.client]}
			clients[j.client] = c
		}
		ok := "o " + j.client + " " + j.grp
		o := owners[ok]
		if o == nil {
			o = &owner{key: ok, served: shares[ok]}
			owners[ok] = o
			c.owners = append(c.owners, o)
		}
		if inFlight {
			c.busy++
			o.busy++
		}
		if !waiting {
			continue
		}
		var msg longrun.Job
		if json.Unmarshal(body, &msg) != nil {
			continue
		}
		j.ref = longrun.JobRef{ID: msg.ID, Version: msg.Version}
		o.jobs = append(o.jobs, j)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}

	// first is the oldest job of a share's owners, for the ties.
	first := func(os []*owner) int64 {
		m := int64(1<<63 - 1)
		for _, o := range os {
			if len(o.jobs) > 0 && o.jobs[0].id < m {
				m = o.jobs[0].id
			}
		}
		return m
	}
	places := map[longrun.JobRef]longrun.Place{}
	var ahead int
	var aheadWork int64
	for {
		var best *client
		for _, c := range clients {
			if first(c.owners) == 1<<63-1 {
				continue
			}
			if best == nil || c.served < best.served || c.served == best.served && (c.busy < best.busy ||
				c.busy == best.busy && first(c.owners) < first(best.owners)) {
				best = c
			}
		}
		if best == nil {
			break
		}
		var next *owner
		for _, o := range best.owners {
			if len(o.jobs) == 0 {
				continue
			}
			if next == nil || o.served < next.served || o.served == next.served && (o.busy < next.busy ||
				o.busy == next.busy && o.jobs[0].id < next.jobs[0].id) {
				next = o
			}
		}
		j := next.jobs[0]
		next.jobs = next.jobs[1:]
		if _, seen := places[j.ref]; !seen {
			places[j.ref] = longrun.Place{Ahead: ahead, AheadWork: aheadWork}
		}
		ahead++
		aheadWork += j.work
		best.served += j.work
		next.served += j.work
		best.busy++ // in flight from then on, as far as can be foreseen
		next.busy++
	}
	return places, db.pace(), nil
}

// finished records the work of a job just done (deleted), for the pace.
func (db *DB) finished(at int64, work int64) {
	db.paceMu.Lock()
	defer db.paceMu.Unlock()
	db.recent = append(db.recent, finish{at, work})
	cut := at - int64(paceWindow)
	i := 0
	for i < len(db.recent) && db.recent[i].at < cut {
		i++
	}
	db.recent = db.recent[i:]
}

// pace is the work of the jobs finished over the last minute, a second:
// the work of all but the first over the time from the first to the last
// (the first's own time is unknown). 0 when fewer than two finished.
func (db *DB) pace() float64 {
	db.paceMu.Lock()
	defer db.paceMu.Unlock()
	cut := db.now() - int64(paceWindow)
	var sum, first, last int64
	n := 0
	for _, f := range db.recent {
		if f.at < cut {
			continue
		}
		if n == 0 {
			first = f.at
		} else {
			sum += f.work
		}
		last = f.at
		n++
	}
	if n < 2 || last <= first {
		return 0
	}
	return float64(sum) / (float64(last-first) / float64(time.Second))
}

// A finish is a job done: when, and its work.
type finish struct{ at, work int64 }

// A Running is a configuration's version with jobs in flight: how many.
type Running struct {
	Ref   longrun.JobRef
	Parts int
}

// Work says what the queue holds, for the operations page: the versions
// with jobs in flight (the oldest first, at most limit) and the waiting
// jobs by the kind of their configuration.
func (db *DB) Work(ctx context.Context, limit int) ([]Running, map[string]int, error) {
	now := db.now()
	rows, err := db.r.QueryContext(ctx, `SELECT json_extract(body, '$.id'), json_extract(body, '$.version'), count(*) FROM jobs
		WHERE visible_at > ? AND receives > 0 GROUP BY 1, 2 ORDER BY min(id) LIMIT ?`, now, limit)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	var running []Running
	for rows.Next() {
		var r Running
		if err := rows.Scan(&r.Ref.ID, &r.Ref.Version, &r.Parts); err != nil {
			rows.Close()
			return nil, nil, err
		}
		running = append(running, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = db.r.QueryContext(ctx, `SELECT coalesce(nullif(json_extract(c.body, '$.kind'), ''), ?), count(*) FROM jobs j
		JOIN configurations c ON c.id = json_extract(j.body, '$.id') WHERE j.visible_at <= ? GROUP BY 1`, longrun.DefaultKind, now)
	if err != nil {
		return nil, nil, unavailable(err)
	}
	defer rows.Close()
	queued := map[string]int{}
	for rows.Next() {
		var kind string
		var n int
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, nil, err
		}
		queued[kind] = n
	}
	return running, queued, rows.Err()
}

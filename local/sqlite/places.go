package sqlite

import (
	"context"
	"encoding/json"
	"math"
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
	served, err := db.served(ctx)
	if err != nil {
		return nil, 0, err
	}
	clients, err := db.waiting(ctx, served)
	if err != nil {
		return nil, 0, err
	}
	return foresee(clients), db.pace(), nil
}

// A share is a client's or an owner's part of the workers, as Receive
// weighs it: the work handed out to it, then its jobs in flight, then its
// oldest waiting job.
type share struct {
	served int64
	busy   int
}

// before reports whether share s, whose oldest waiting job is first, goes
// before share o, whose oldest is ofirst.
func (s share) before(o share, first, ofirst int64) bool {
	if s.served != o.served {
		return s.served < o.served
	}
	if s.busy != o.busy {
		return s.busy < o.busy
	}
	return first < ofirst
}

// A waitingJob is a job as Places weighs it.
type waitingJob struct {
	id   int64
	work int64
	ref  longrun.JobRef
}

// An ownerShare is an owner's share within its client, with its waiting
// jobs, oldest first.
type ownerShare struct {
	share
	jobs []waitingJob
}

// oldest is the id of the owner's oldest waiting job; none: the greatest.
func (o *ownerShare) oldest() int64 {
	if len(o.jobs) == 0 {
		return math.MaxInt64
	}
	return o.jobs[0].id
}

// A clientShare is a client's share, with its owners'.
type clientShare struct {
	share
	owners []*ownerShare
}

// oldest is the id of the oldest waiting job of the client's owners.
func (c *clientShare) oldest() int64 {
	m := int64(math.MaxInt64)
	for _, o := range c.owners {
		m = min(m, o.oldest())
	}
	return m
}

// served reads the work each share was handed (job_shares).
func (db *DB) served(ctx context.Context) (map[string]int64, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT key, served FROM job_shares`)
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	served := map[string]int64{}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		served[k] = v
	}
	return served, rows.Err()
}

// waiting reads the queue into its clients' and owners' shares: their
// work served, their jobs in flight, their waiting jobs.
func (db *DB) waiting(ctx context.Context, served map[string]int64) ([]*clientShare, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, client, grp, work, visible_at <= ?1, visible_at > ?1 AND receives > 0, body
		FROM jobs ORDER BY id`, db.now())
	if err != nil {
		return nil, unavailable(err)
	}
	defer rows.Close()
	clients, owners := map[string]*clientShare{}, map[string]*ownerShare{}
	var out []*clientShare
	for rows.Next() {
		var j waitingJob
		var client, grp string
		var waiting, inFlight bool
		var body []byte
		if err := rows.Scan(&j.id, &client, &grp, &j.work, &waiting, &inFlight, &body); err != nil {
			return nil, err
		}
		c := clients[client]
		if c == nil {
			c = &clientShare{share: share{served: served["c "+client]}}
			clients[client] = c
			out = append(out, c)
		}
		key := "o " + client + " " + grp
		o := owners[key]
		if o == nil {
			o = &ownerShare{share: share{served: served[key]}}
			owners[key] = o
			c.owners = append(c.owners, o)
		}
		if inFlight {
			c.busy++
			o.busy++
		}
		var msg longrun.Job
		if !waiting || json.Unmarshal(body, &msg) != nil {
			continue
		}
		j.ref = longrun.JobRef{ID: msg.ID, Version: msg.Version}
		o.jobs = append(o.jobs, j)
	}
	return out, rows.Err()
}

// foresee hands the waiting jobs out as Receive would, each charging its
// work to its shares and staying in flight, and returns each version's
// place: the jobs handed out before its first, and their work.
func foresee(clients []*clientShare) map[longrun.JobRef]longrun.Place {
	places := map[longrun.JobRef]longrun.Place{}
	var ahead int
	var aheadWork int64
	for {
		var c *clientShare
		for _, x := range clients {
			if x.oldest() != math.MaxInt64 && (c == nil || x.before(c.share, x.oldest(), c.oldest())) {
				c = x
			}
		}
		if c == nil {
			return places
		}
		var o *ownerShare
		for _, x := range c.owners {
			if len(x.jobs) > 0 && (o == nil || x.before(o.share, x.oldest(), o.oldest())) {
				o = x
			}
		}
		j := o.jobs[0]
		o.jobs = o.jobs[1:]
		if _, seen := places[j.ref]; !seen {
			places[j.ref] = longrun.Place{Ahead: ahead, AheadWork: aheadWork}
		}
		ahead++
		aheadWork += j.work
		for _, sh := range []*share{&c.share, &o.share} {
			sh.served += j.work
			sh.busy++ // in flight from then on, as far as can be foreseen
		}
	}
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

package longrun

import (
	"context"
	"sync"
	"time"
)

// A JobRef names a version of a configuration, as its jobs carry it.
type JobRef struct {
	ID      string
	Version int64
}

// A Place is where a queued version stands: how many jobs (parts) go
// before its first under the queue's fair order, and their estimated work.
type Place struct {
	Ahead     int
	AheadWork int64
	// StartsIn is when its first job should be handed out, from the pace
	// the queue has kept lately; negative when there is no pace to go by.
	StartsIn time.Duration
}

// A Placer is a Queue that can say where its waiting jobs stand: the
// place of each waiting version, and the work the queue has handed out a
// second lately (0: none lately). The embedded queue is one; SQS says no
// more than its depth, so on AWS a queued view carries no place.
type Placer interface {
	Places(ctx context.Context) (map[JobRef]Place, float64, error)
}

// placesFor is how long one reading of the queue's places serves: many
// owners' pages asking at once read the queue once.
const placesFor = time.Second

// placesRetry is how soon the places are read again for a version not in
// the last reading.
const placesRetry = 50 * time.Millisecond

// placeCache keeps the last reading of the queue's places.
type placeCache struct {
	mu     sync.Mutex
	at     time.Time
	places map[JobRef]Place
	pace   float64
}

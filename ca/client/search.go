package client

import (
	"container/heap"
	"sync"
	"time"
)

// searchReq is one name being searched.
type searchReq struct {
	cid      uint32
	name     string
	attempts int
	period   time.Duration
	due      time.Time
	done     bool
	index    int // in the retry heap, -1 if not there
}

// inWindow reports whether r counts against the search window: names on
// their first two attempts do.
func (r *searchReq) inWindow() bool { return r.attempts == 1 || r.attempts == 2 }

type retryHeap []*searchReq

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h retryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *retryHeap) Push(x any) {
	r := x.(*searchReq)
	r.index = len(*h)
	*h = append(*h, r)
}
func (h *retryHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.index = -1
	return r
}

// searcher is the search bookkeeping: names never sent (fresh, FIFO),
// names waiting for a retry (a heap by due time), and the number of names
// in their first two attempts (inflight), which is capped by searchWindow
// so that a burst of thousands of names does not overflow the servers'
// receive buffers. It does no I/O.
type searcher struct {
	mu       sync.Mutex
	pending  []*searchReq // by cid index; the entry's cid must match
	fresh    []*searchReq
	retry    retryHeap
	inflight int
	seq      uint32
	wake     chan struct{}
}

func (s *searcher) init() {
	s.wake = make(chan struct{}, 1)
}

func (s *searcher) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// add queues names for search.
func (s *searcher) add(cids []uint32, names []string) {
	s.mu.Lock()
	slab := make([]searchReq, len(cids))
	for i, cid := range cids {
		r := &slab[i]
		r.cid, r.name, r.index = cid, names[i], -1
		s.setPending(cid, r)
		s.fresh = append(s.fresh, r)
	}
	s.mu.Unlock()
	s.signal()
}

// answered removes cid from the search and reports whether it was pending.
func (s *searcher) answered(cid uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := idIndex(cid)
	if idx >= uint32(len(s.pending)) {
		return false
	}
	r := s.pending[idx]
	if r == nil || r.cid != cid {
		return false
	}
	s.pending[idx] = nil
	r.done = true
	if r.index >= 0 {
		heap.Remove(&s.retry, r.index)
	}
	if r.inWindow() {
		s.inflight--
		if s.inflight == searchWindow-1 {
			defer s.signal()
		}
	}
	return true
}

// cancel stops searching for cid.
func (s *searcher) cancel(cid uint32) { s.answered(cid) }

func (s *searcher) nextSeq() uint32 {
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	return n
}

// take appends to dst the names to send now and returns when the next
// retry is due (zero if none).
func (s *searcher) take(dst []*searchReq, now time.Time, maxPeriod time.Duration) ([]*searchReq, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.retry) > 0 && !s.retry[0].due.After(now) {
		r := heap.Pop(&s.retry).(*searchReq)
		was := r.inWindow()
		r.attempts++
		if was && !r.inWindow() {
			s.inflight--
		}
		r.period = min(2*r.period, maxPeriod)
		r.due = now.Add(r.period)
		heap.Push(&s.retry, r)
		dst = append(dst, r)
	}
	n := 0
	for n < len(s.fresh) && s.inflight < searchWindow {
		r := s.fresh[n]
		n++
		if r.done {
			continue
		}
		r.attempts = 1
		r.period = min(DefaultSearchPeriod, maxPeriod)
		r.due = now.Add(r.period)
		s.inflight++
		heap.Push(&s.retry, r)
		dst = append(dst, r)
	}
	clear(s.fresh[:n])
	s.fresh = s.fresh[n:]
	if len(s.fresh) == 0 {
		s.fresh = nil
	}
	var next time.Time
	if len(s.retry) > 0 {
		next = s.retry[0].due
	}
	return dst, next
}

// addDelayed queues one name again after a lost connection; with a delay
// its first retry waits that long and does not count against the window.
func (s *searcher) addDelayed(cid uint32, name string, delay time.Duration) {
	if delay <= 0 {
		s.add([]uint32{cid}, []string{name})
		return
	}
	s.mu.Lock()
	r := &searchReq{cid: cid, name: name, index: -1, attempts: 3, period: delay, due: time.Now().Add(delay)}
	s.setPending(cid, r)
	heap.Push(&s.retry, r)
	s.mu.Unlock()
	s.signal()
}

// setPending records r as the search for cid. s.mu must be held.
func (s *searcher) setPending(cid uint32, r *searchReq) {
	idx := int(idIndex(cid))
	if idx >= len(s.pending) {
		s.pending = append(s.pending, make([]*searchReq, idx+1-len(s.pending))...)
	}
	s.pending[idx] = r
}

package notify

import (
	"context"
	"maps"
	"strings"
	"sync"
)

// Store keeps queued messages across restarts. Keys are message ids (any
// text: a Store encodes them as it needs).
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	Delete(ctx context.Context, key string) error
	// List returns every stored key and value.
	List(ctx context.Context) (map[string][]byte, error)
}

// MemStore is a Store in memory (tests; a process without a bus).
type MemStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *MemStore) Put(_ context.Context, key string, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = append([]byte(nil), value...)
	return nil
}

func (s *MemStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

func (s *MemStore) List(context.Context) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m), nil
}

// Keys lists the stored keys with prefix (tests).
func (s *MemStore) Keys(prefix string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	return out
}

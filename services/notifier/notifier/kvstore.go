package notifier

import (
	"context"
	"errors"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jmssync/jmssync/libs/natsx"
)

// Keys of jmssync_state owned by the notifier:
//
//	notify.outbox.<channel>.<message id>   a queued notification (deleted once sent)
//	notify.alert.<family>.<scope|global>   the last alert sent for that state
const (
	keyOutbox = "notify.outbox."
	keyAlert  = "notify.alert."
)

// kvStore is a notify.Store on the state bucket, under one prefix.
type kvStore struct {
	kv     jetstream.KeyValue
	prefix string
}

func newKVStore(kv jetstream.KeyValue, channel string) *kvStore {
	return &kvStore{kv: kv, prefix: keyOutbox + natsx.EncodeToken(channel) + "."}
}

func (s *kvStore) key(id string) string { return s.prefix + natsx.EncodeToken(id) }

func (s *kvStore) Put(ctx context.Context, id string, v []byte) error {
	_, err := s.kv.Put(ctx, s.key(id), v)
	return err
}

func (s *kvStore) Delete(ctx context.Context, id string) error {
	err := s.kv.Purge(ctx, s.key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	return err
}

func (s *kvStore) List(ctx context.Context) (map[string][]byte, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, s.prefix+">")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, err
	}
	out := map[string][]byte{}
	for k := range lister.Keys() {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			return nil, err
		}
		id, err := natsx.DecodeToken(strings.TrimPrefix(k, s.prefix))
		if err != nil {
			continue
		}
		out[id] = e.Value()
	}
	return out, nil
}
